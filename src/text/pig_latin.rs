//! Pig Latin, the toy translation task of the seq2seq lessons' exercises:
//! a word that starts with a vowel gets `way` appended (`apple` →
//! `appleway`); otherwise its leading consonants move to the end, followed
//! by `ay` (`string` → `ingstray`). `y` counts as a vowel except as a word's
//! first letter (`rhythm` → `ythmrhay`, `yes` → `esyay`). A character-level
//! model learns the rule from pairs generated here.

/// The Pig Latin of one word of ASCII letters; anything else (punctuation,
/// digits, other scripts) is returned as it is.
pub fn pig_latin_word(word: &str) -> String {
    if word.is_empty() || !word.chars().all(|c| c.is_ascii_alphabetic()) {
        return word.to_string();
    }
    let vowel = |i: usize, c: char| {
        matches!(c.to_ascii_lowercase(), 'a' | 'e' | 'i' | 'o' | 'u')
            || (i > 0 && c.eq_ignore_ascii_case(&'y'))
    };
    match word.char_indices().find(|&(i, c)| vowel(i, c)) {
        Some((0, _)) => format!("{word}way"),
        Some((i, _)) => format!("{}{}ay", &word[i..], &word[..i]),
        None => format!("{word}ay"),
    }
}

/// The Pig Latin of a sentence of whitespace-separated words.
pub fn pig_latin(sentence: &str) -> String {
    sentence
        .split_whitespace()
        .map(pig_latin_word)
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_exercise_rules() {
        for (word, want) in [
            ("apple", "appleway"),
            ("string", "ingstray"),
            ("pig", "igpay"),
            ("rhythm", "ythmrhay"),
            ("yes", "esyay"),
            ("shh", "shhay"),
            ("i", "iway"),
            (".", "."),
            ("café", "café"),
        ] {
            assert_eq!(pig_latin_word(word), want, "{word}");
        }
        assert_eq!(pig_latin("i am cold ."), "iway amway oldcay .");
    }
}
