//! "Did you mean ...?" for names the user mistyped.

/// Inputs longer than this are not compared (edit distance is quadratic).
const MAX_INPUT: usize = 64;

/// The candidate closest to `input` by edit distance, if reasonably close.
pub fn closest<'a>(input: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    if input.chars().count() > MAX_INPUT {
        return None;
    }
    candidates
        .into_iter()
        .map(|c| (strsim::damerau_levenshtein(input, c), c))
        .filter(|(d, c)| *d <= (c.len().max(input.len()) / 2).max(2))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// ` Did you mean "x"?` or nothing.
pub fn did_you_mean<'a>(input: &str, candidates: impl IntoIterator<Item = &'a str>) -> String {
    closest(input, candidates)
        .map(|c| format!(" Did you mean \"{c}\"?"))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn near_names_are_suggested_far_ones_not() {
        assert_eq!(
            did_you_mean("chat-agnet", ["chat-agent", "llm-api"]),
            " Did you mean \"chat-agent\"?"
        );
        assert_eq!(did_you_mean("zzzzzzzz", ["chat-agent"]), "");
        let huge = "x".repeat(1 << 20);
        assert_eq!(closest(&huge, ["us-ord"]), None);
    }
}
