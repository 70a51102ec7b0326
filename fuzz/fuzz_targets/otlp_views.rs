//! Views and the span rewrite over arbitrary bytes: never panic; over valid requests the
//! rewrite must produce a valid request with the count it reports.
#![no_main]

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use meshtrace_otlp::rewrite::{Action, SpanEdit, TracesEditor, rewrite_traces};
use meshtrace_otlp::views::{LogsView, MetricsView, ResourceSpansView, ScopeSpansView, SpanView, TracesView};
use meshtrace_otlp::{Batch, Limits, Signal, validate};

struct Editor(u8);

impl<'a> TracesEditor<'a> for Editor {
    fn span(&mut self, _: &ResourceSpansView<'a>, _: &ScopeSpansView<'a>, s: &SpanView<'a>, e: &mut SpanEdit<'a>) -> Action {
        self.0 = self.0.wrapping_add(1);
        match self.0 % 6 {
            0 => return Action::Drop,
            1 => {
                e.attributes.upsert("k", s.name());
            }
            2 => {
                e.attributes.delete("k");
                e.drop_event(0);
            }
            3 => e.set_status(2, "err"),
            4 => e.set_trace_state(""),
            _ => {}
        }
        Action::Keep
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&seed, payload)) = data.split_first() else { return };
    let mut n = 0usize;
    for (rs, ss, s) in TracesView::new(payload).spans() {
        n += rs.resource().attributes().len() + ss.scope().name().len() + s.name().len();
        n += s.attributes().iter().filter(|kv| !matches!(kv.value(), meshtrace_otlp::views::AnyValueRef::Empty)).count();
        n += s.attributes().get("k").is_some() as usize + s.events().count() + s.links().count();
        n += s.status_message().len() + s.trace_id()[0] as usize;
    }
    for rl in LogsView::new(payload).resource_logs() {
        for sl in rl.scope_logs() {
            for r in sl.log_records() {
                n += format!("{:?}", r.body()).len();
            }
        }
    }
    for rm in MetricsView::new(payload).resource_metrics() {
        for sm in rm.scope_metrics() {
            for m in sm.metrics() {
                n += m.data_points_len() + m.name().len();
            }
        }
    }
    std::hint::black_box(n);
    let limits = Limits::default();
    if validate(Signal::Traces, payload, &limits).is_ok() {
        let batch = Batch::new_validated(Signal::Traces, Bytes::copy_from_slice(payload), &limits).unwrap();
        let out = rewrite_traces(&batch, &mut Editor(seed));
        assert_eq!(validate(Signal::Traces, out.bytes(), &limits), Ok(out.items()));
    }
});
