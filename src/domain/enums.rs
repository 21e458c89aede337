//! The closed vocabularies of the seed schema, each mirrored by a CHECK constraint.

use serde::{Deserialize, Serialize};

/// Declares a string-backed enum with `as_str`, `parse`, `ALL` and the
/// conversions sqlx needs (`TryFrom<String>`).
macro_rules! string_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        pub enum $name { $($(#[$vmeta])* #[serde(rename = $text)] $variant),+ }

        impl $name {
            /// Every value, in display order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The value as stored in the database and shown in URLs.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }

            /// Parses the stored form; `None` for anything else.
            pub fn parse(text: &str) -> Option<Self> {
                match text { $($text => Some($name::$variant),)+ _ => None }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl TryFrom<String> for $name {
            type Error = String;
            fn try_from(text: String) -> Result<Self, String> {
                Self::parse(&text).ok_or_else(|| format!(concat!("unknown ", stringify!($name), " {:?}"), text))
            }
        }

        impl std::str::FromStr for $name {
            type Err = String;
            fn from_str(text: &str) -> Result<Self, Self::Err> {
                Self::try_from(text.to_string())
            }
        }
    };
}

pub(crate) use string_enum;

string_enum!(
    /// What a signed-in person may do.
    Role {
        /// Sees and manages every organization.
        BankAdmin => "bank_admin",
        /// Manages one organization's jobs, webhooks and integrations.
        OrgAdmin => "org_admin",
        /// Reads one organization's data.
        OrgViewer => "org_viewer",
    }
);

impl Role {
    /// Human label for badges and menus.
    pub fn label(self) -> &'static str {
        match self {
            Role::BankAdmin => "Bank admin",
            Role::OrgAdmin => "Organization admin",
            Role::OrgViewer => "Organization viewer",
        }
    }
}

string_enum!(
    /// Lifecycle of a job (and, with the same words, of a batch).
    JobStatus {
        Pending => "pending",
        Running => "running",
        Completed => "completed",
        Failed => "failed",
        Cancelled => "cancelled",
    }
);

string_enum!(
    /// Claim order of a job: urgent first.
    Priority {
        Low => "low",
        Normal => "normal",
        High => "high",
        Urgent => "urgent",
    }
);

string_enum!(
    /// What a job does; each type has its own handler.
    JobType {
        Email => "email",
        Sms => "sms",
        Whatsapp => "whatsapp",
        DocumentProcessing => "document_processing",
        ReportGeneration => "report_generation",
        DataSync => "data_sync",
        Webhook => "webhook",
        Cleanup => "cleanup",
        Other => "other",
    }
);

impl JobType {
    /// Whether this build has a handler for the type. Jobs of other types wait
    /// in `pending` until their integration arrives.
    pub fn has_builtin_handler(self) -> bool {
        matches!(
            self,
            JobType::DocumentProcessing
                | JobType::ReportGeneration
                | JobType::Cleanup
                | JobType::Other
                | JobType::Email
                | JobType::Sms
                | JobType::Whatsapp
                | JobType::DataSync
                | JobType::Webhook
        )
    }

    /// Why a pending job of this type is not being picked up, if that is so.
    pub fn waiting_reason(self) -> Option<&'static str> {
        (!self.has_builtin_handler()).then_some(
            "No handler configured: this job type needs an integration that is not set up yet.",
        )
    }
}

string_enum!(
    /// A console action on one job.
    JobAction {
        /// Cancel a pending job, or ask the worker to stop a running one.
        Cancel => "cancel",
        /// Run a failed or cancelled job again with fresh attempts, or a waiting one now.
        Retry => "retry",
        /// Remove a finished job.
        Delete => "delete",
    }
);

impl JobAction {
    /// "cancelled", "retried", "deleted".
    pub fn past_tense(self) -> &'static str {
        match self {
            JobAction::Cancel => "cancelled",
            JobAction::Retry => "retried",
            JobAction::Delete => "deleted",
        }
    }

    /// Which actions apply to a job in `status`.
    pub fn allowed(self, status: JobStatus) -> bool {
        match self {
            JobAction::Cancel => matches!(status, JobStatus::Pending | JobStatus::Running),
            JobAction::Retry => matches!(
                status,
                JobStatus::Pending | JobStatus::Failed | JobStatus::Cancelled
            ),
            JobAction::Delete => matches!(
                status,
                JobStatus::Completed | JobStatus::Failed | JobStatus::Cancelled
            ),
        }
    }

    /// The state the console shows for a job in `status` while this action
    /// is on its way: a running job stops only when its worker notices.
    pub fn expected_state(self, status: JobStatus) -> &'static str {
        match self {
            JobAction::Cancel if status == JobStatus::Running => "cancelling",
            JobAction::Cancel => "cancelled",
            JobAction::Retry => "pending",
            JobAction::Delete => "deleted",
        }
    }
}

string_enum!(
    /// Outcome of one third-party API call.
    ApiCallStatus {
        Pending => "pending",
        Success => "success",
        Failed => "failed",
        Timeout => "timeout",
    }
);

string_enum!(
    /// HTTP method of a logged third-party call.
    HttpMethod {
        Get => "GET",
        Post => "POST",
        Put => "PUT",
        Delete => "DELETE",
        Patch => "PATCH",
    }
);

string_enum!(
    /// Health of a webhook endpoint.
    WebhookStatus {
        Active => "active",
        Inactive => "inactive",
        Error => "error",
    }
);

string_enum!(
    /// Events a webhook can subscribe to: the design note's case events,
    /// and the system's own (`noun.verb`).
    WebhookEvent {
        CaseCreated => "case_created",
        CaseUpdated => "case_updated",
        CaseApproved => "case_approved",
        CaseRejected => "case_rejected",
        CaseClosed => "case_closed",
        DocumentUploaded => "document_uploaded",
        DocumentVerified => "document_verified",
        JobCompleted => "job.completed",
        JobFailed => "job.failed",
        BatchCompleted => "batch.completed",
        BatchFailed => "batch.failed",
        FailedJobResolved => "failed_job.resolved",
        WebhookTest => "webhook.test",
    }
);

string_enum!(
    /// What kind of trouble ended an attempt: stored in `error_details.kind`
    /// and in the attempt log, shown in the job's history.
    JobErrorKind {
        /// The payload does not fit the job type.
        InvalidPayload => "invalid_payload",
        /// Something the job names does not exist.
        NotFound => "not_found",
        /// The database refused or was unreachable.
        Database => "database",
        /// The attempt ran past the job's timeout.
        Timeout => "timeout",
        /// The handler crashed.
        Panic => "panic",
        /// No handler runs jobs of this type.
        NoHandler => "no_handler",
        /// The worker holding the job stopped renewing its lease.
        LeaseExpired => "lease_expired",
        /// The handler reported a failure of its own.
        Handler => "handler",
        /// An untrusted input, analysed in a child process, exceeded its
        /// memory, CPU time or output limit, or crashed the child.
        ResourceLimit => "resource_limit",
    }
);

string_enum!(
    /// How one unsuccessful attempt ended, as recorded in the attempt log.
    AttemptOutcome {
        /// Failed; the job was scheduled to run again.
        Retry => "retry",
        /// Failed for good.
        Failed => "failed",
        /// Postponed without spending the attempt.
        Snoozed => "snoozed",
        /// Cancelled (by its handler or on request).
        Cancelled => "cancelled",
        /// Its worker stopped responding; the rescuer took the job back.
        Lost => "lost",
    }
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_value_round_trips_through_its_stored_form() {
        for status in JobStatus::ALL {
            assert_eq!(JobStatus::parse(status.as_str()), Some(*status));
        }
        for job_type in JobType::ALL {
            assert_eq!(
                JobType::try_from(job_type.as_str().to_string()),
                Ok(*job_type)
            );
        }
        assert_eq!(HttpMethod::parse("PATCH"), Some(HttpMethod::Patch));
    }

    #[test]
    fn a_cancel_is_expected_to_end_a_waiting_job_and_only_ask_a_running_one() {
        assert_eq!(
            JobAction::Cancel.expected_state(JobStatus::Pending),
            "cancelled"
        );
        assert_eq!(
            JobAction::Cancel.expected_state(JobStatus::Running),
            "cancelling"
        );
        assert_eq!(
            JobAction::Retry.expected_state(JobStatus::Failed),
            "pending"
        );
    }

    #[test]
    fn unknown_values_are_rejected_with_their_text() {
        assert_eq!(Priority::parse("asap"), None);
        let err = Role::try_from("root".to_string()).unwrap_err();
        assert!(err.contains("root"), "{err}");
    }

    #[test]
    fn serde_uses_the_stored_form() {
        assert_eq!(
            serde_json::to_string(&JobType::DocumentProcessing).unwrap(),
            "\"document_processing\""
        );
        assert_eq!(
            serde_json::from_str::<Role>("\"org_viewer\"").unwrap(),
            Role::OrgViewer
        );
    }
}
