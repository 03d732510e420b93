//! sacreBLEU's corpus layout, shared by its metrics: hypotheses and
//! reference streams, `refs[j][i]` being stream `j`'s reference for
//! hypothesis `i`.

use crate::{Error, Result};

/// Checks the layout (a hypothesis at least, a stream at least, every
/// stream one line per hypothesis) and hands `add` each hypothesis with
/// its references; `metric` names the metric in errors.
pub(super) fn each_segment<H: AsRef<str>, R: AsRef<str>>(
    metric: &str,
    hyps: &[H],
    refs: &[Vec<R>],
    mut add: impl FnMut(&str, &[&str]) -> Result<()>,
) -> Result<()> {
    if hyps.is_empty() {
        return Err(Error::Shape(format!(
            "{metric} needs at least one hypothesis"
        )));
    }
    if refs.is_empty() {
        return Err(Error::Shape(format!(
            "{metric} needs at least one reference stream"
        )));
    }
    if let Some((j, stream)) = refs.iter().enumerate().find(|(_, s)| s.len() != hyps.len()) {
        return Err(Error::Shape(format!(
            "{metric}: {} hypotheses but reference stream {} has {} lines",
            hyps.len(),
            j + 1,
            stream.len()
        )));
    }
    let mut seg_refs: Vec<&str> = Vec::with_capacity(refs.len());
    for (i, hyp) in hyps.iter().enumerate() {
        seg_refs.clear();
        seg_refs.extend(refs.iter().map(|stream| stream[i].as_ref()));
        add(hyp.as_ref(), &seg_refs)?;
    }
    Ok(())
}
