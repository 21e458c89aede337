//! Actions that show their effect at once. A view shows what a pending
//! action is expected to make of its record, keeps showing it while the
//! server's answer and the reload it causes arrive, and drops it the moment
//! the server refuses: the record then shows as it was, beside the server's
//! message.

use leptos::prelude::*;
use leptos::server_fn::ServerFn;

/// The input of `action` whose effect the view should show now, if any.
///
/// Some while the action is in flight, and still Some after it succeeded:
/// the reload that follows rebuilds the view from the server's data, and
/// with it this state. None as soon as the server refuses. Create it inside
/// the view that renders the record, so that a rebuild starts clean.
pub fn expected_effect<S>(action: ServerAction<S>) -> Signal<Option<S>>
where
    S: ServerFn + Clone + Send + Sync + 'static,
    S::Output: Send + Sync + 'static,
    S::Error: Send + Sync + 'static,
{
    // what this view saw dispatched (the action's own input is cleared when
    // the answer arrives, before the reload has brought the new state)
    let dispatched = RwSignal::new(None::<S>);
    Effect::new(move |_| {
        if let Some(input) = action.input().get() {
            dispatched.set(Some(input));
        }
    });
    Signal::derive(move || {
        action.input().get().or_else(|| {
            let refused = action.value().with(|value| matches!(value, Some(Err(_))));
            if refused {
                None
            } else {
                dispatched.get()
            }
        })
    })
}
