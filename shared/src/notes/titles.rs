//! Title matching as a user types a film's name, against titles as MovieLens writes them.
//!
//! Rules (the same function reads the table's titles and the caller's, so both sides agree):
//! 1. A trailing year group `(1999)` (or a range `(2006–2007)`, first year kept) is split off;
//!    it is optional in a query.
//! 2. Trailing parenthesised groups are alternative titles: `City of Lost Children, The (Cité des
//!    enfants perdus, La) (1995)` has the main title `City of Lost Children, The` and the
//!    alternative `Cité des enfants perdus, La`; `a.k.a.` in front of one is dropped.
//! 3. An article written at the end, as MovieLens does (`Matrix, The`, `Postino, Il`,
//!    `Avventura, L'`), moves to the front: `The Matrix`, `Il Postino`, `L'Avventura`
//!    ([`ARTICLES`]).
//! 4. Keys: lower case, common Latin diacritics folded (`é` → `e`, `ß` → `ss`), `&` read as
//!    `and`, apostrophes dropped, any other punctuation a space, white space collapsed.
//!
//! A table item is found under its main title's key, its alternative titles' keys, and (weaker)
//! those keys without a leading article (`matrix` finds `Matrix, The`). A query tries its main
//! title, then its alternatives, then its main title without a leading article. Among the items
//! under a key, a query with a year prefers that year, then a year one off (release years differ
//! by country), then any; then a main-title match over an alternative one over an article-less
//! one; then the most rated item; then the first in the table.

/// Articles MovieLens moves to the end of a title (`, The`), in the languages it uses them.
pub const ARTICLES: &[&str] = &[
    "the", "a", "an", "les", "la", "le", "l'", "il", "das", "der", "die", "el", "los", "las", "lo",
    "i", "gli", "un", "une", "una", "de", "det", "den", "en", "ett", "het", "o", "os", "ein",
    "eine",
];

/// Articles dropped from the front of a title written with them in front (`The OA`): English
/// only, because `Die Hard` or `La Bamba` start with words that are not articles there.
const FRONT_ARTICLES: &[&str] = &["the", "a", "an"];

/// How an item's key was made: weaker kinds lose to stronger ones under the same key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum KeyKind {
    Main = 0,
    Alternative = 1,
    WithoutArticle = 2,
}

/// Splits a trailing `(YYYY)` or `(YYYY–YYYY)` off `title` (after trimming). The year is kept only
/// when something is left in front of it.
pub fn split_year(title: &str) -> (&str, Option<u16>) {
    let t = title.trim();
    let Some(open) = t.strip_suffix(')').and_then(|s| s.rfind('(')) else {
        return (t, None);
    };
    let inner = &t[open + 1..t.len() - 1];
    let digits = |s: &str| s.len() == 4 && s.bytes().all(|b| b.is_ascii_digit());
    let first = inner.get(..4).filter(|f| digits(f));
    let rest = inner.get(4..).unwrap_or("");
    let range_ok = rest.is_empty()
        || ["-", "–"]
            .iter()
            .filter_map(|dash| rest.strip_prefix(dash))
            .any(|end| end.is_empty() || digits(end));
    let front = t[..open].trim_end();
    match first {
        Some(y) if range_ok && !front.is_empty() => (front, y.parse().ok()),
        _ => (t, None),
    }
}

/// The main title and the alternative titles of a title without its year (rule 2), as written.
pub fn split_alternatives(title: &str) -> (String, Vec<String>) {
    let mut main = title.trim();
    let mut alts = Vec::new();
    while let Some(body) = main.strip_suffix(')') {
        // The '(' that balances the final ')'.
        let mut depth = 0usize;
        let mut open = None;
        for (i, c) in body.char_indices().rev() {
            match c {
                ')' => depth += 1,
                '(' if depth == 0 => {
                    open = Some(i);
                    break;
                }
                '(' => depth -= 1,
                _ => {}
            }
        }
        let Some(open) = open else { break };
        let front = body[..open].trim_end();
        if front.is_empty() || front.len() == body[..open].len() {
            // A title that is all parentheses, or `Foo(bar)` without a space: not an alternative.
            break;
        }
        let inner = body[open + 1..].trim();
        let inner = strip_prefix_ci(inner, "a.k.a.")
            .or_else(|| strip_prefix_ci(inner, "aka "))
            .unwrap_or(inner)
            .trim();
        if !inner.is_empty() {
            alts.push(inner.to_string());
        }
        main = front;
    }
    alts.reverse();
    (main.to_string(), alts)
}

fn strip_prefix_ci<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    let head = s.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &s[prefix.len()..])
}

/// Moves an article written at the end (`Matrix, The`) to the front (`The Matrix`); `None` when
/// the title does not end with `, <article>`.
pub fn article_to_front(title: &str) -> Option<String> {
    let (front, article) = split_end_article(title)?;
    Some(if article.ends_with(['\'', '’']) {
        format!("{article}{front}")
    } else {
        format!("{article} {front}")
    })
}

/// `Matrix, The` → (`Matrix`, `The`).
fn split_end_article(title: &str) -> Option<(&str, &str)> {
    let (front, last) = title.trim().rsplit_once(", ")?;
    let (front, last) = (front.trim(), last.trim());
    let known = ARTICLES.iter().any(|a| {
        last.eq_ignore_ascii_case(a) || (a.ends_with('\'') && is_apostrophe_form(last, a))
    });
    (known && !front.is_empty()).then_some((front, last))
}

/// `L’` (typographic apostrophe) for the article `l'`.
fn is_apostrophe_form(word: &str, article: &str) -> bool {
    let stem = &article[..article.len() - 1];
    // `strip_prefix_ci` slices with `get`: a word starting with a multi-byte letter (`É…`) is
    // simply no match, never a slice inside a character.
    strip_prefix_ci(word, stem).is_some_and(|rest| matches!(rest, "'" | "’"))
}

/// Rule 4: the comparison key of a title form.
pub fn normalize(title: &str) -> String {
    let mut out = String::with_capacity(title.len());
    for c in title.chars().flat_map(char::to_lowercase) {
        match c {
            '\'' | '’' | '‘' | '`' | '´' => {}
            '&' => out.push_str(" and "),
            c if c.is_alphanumeric() => match fold(c) {
                Some(s) => out.push_str(s),
                None => out.push(c),
            },
            _ => out.push(' '),
        }
    }
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Common Latin letters with diacritics (lower case) as a user without them would type them.
fn fold(c: char) -> Option<&'static str> {
    Some(match c {
        'à' | 'á' | 'â' | 'ã' | 'ä' | 'å' | 'ā' | 'ă' | 'ą' => "a",
        'æ' => "ae",
        'ç' | 'ć' | 'č' => "c",
        'ď' | 'đ' | 'ð' => "d",
        'è' | 'é' | 'ê' | 'ë' | 'ē' | 'ė' | 'ę' | 'ě' => "e",
        'ğ' => "g",
        'ì' | 'í' | 'î' | 'ï' | 'ī' | 'į' | 'ı' => "i",
        'ł' | 'ľ' | 'ĺ' => "l",
        'ñ' | 'ń' | 'ň' => "n",
        'ò' | 'ó' | 'ô' | 'õ' | 'ö' | 'ø' | 'ō' | 'ő' => "o",
        'œ' => "oe",
        'ř' | 'ŕ' => "r",
        'ś' | 'š' | 'ş' | 'ș' => "s",
        'ß' => "ss",
        'ť' | 'ţ' | 'ț' => "t",
        'þ' => "th",
        'ù' | 'ú' | 'û' | 'ü' | 'ū' | 'ů' | 'ű' | 'ų' => "u",
        'ý' | 'ÿ' => "y",
        'ź' | 'ż' | 'ž' => "z",
        _ => return None,
    })
}

/// The key without its first word when that word is one of `articles` (and something is left).
fn without_article(key: &str, articles: &[&str]) -> Option<String> {
    let (first, rest) = key.split_once(' ')?;
    // Keys have no apostrophes: `l'` is `l` glued to the next word, so it cannot be split off.
    articles.contains(&first).then(|| rest.to_string())
}

/// The keys a table title is found under, with how each was made (no empty or repeated key).
pub fn item_keys(title_without_year: &str) -> Vec<(String, KeyKind)> {
    let (main, alts) = split_alternatives(title_without_year);
    let mut keys: Vec<(String, KeyKind)> = Vec::new();
    let mut push = |key: String, kind: KeyKind| {
        if !key.is_empty() && !keys.iter().any(|(k, _)| *k == key) {
            keys.push((key, kind));
        }
    };
    let forms: Vec<(&str, KeyKind)> = std::iter::once((main.as_str(), KeyKind::Main))
        .chain(alts.iter().map(|a| (a.as_str(), KeyKind::Alternative)))
        .collect();
    let mut weak = Vec::new();
    for &(form, kind) in &forms {
        match split_end_article(form) {
            Some((front, _)) => {
                push(normalize(&article_to_front(form).unwrap_or_default()), kind);
                weak.push(normalize(front));
            }
            None => {
                let key = normalize(form);
                weak.extend(without_article(&key, FRONT_ARTICLES));
                push(key, kind);
            }
        }
    }
    for key in weak {
        push(key, KeyKind::WithoutArticle);
    }
    keys
}

/// A parsed query: keys to try in order, and the year if one was typed.
#[derive(Debug, Clone, PartialEq)]
pub struct Query {
    pub keys: Vec<String>,
    pub year: Option<u16>,
}

/// Reads a title as a user or a page passes it (module docs).
pub fn parse_query(title: &str) -> Query {
    let (rest, year) = split_year(title);
    let (main, alts) = split_alternatives(rest);
    let form = |f: &str| normalize(&article_to_front(f).unwrap_or_else(|| f.to_string()));
    let main_key = form(&main);
    let mut keys = vec![main_key.clone()];
    keys.extend(alts.iter().map(|a| form(a)));
    keys.extend(without_article(&main_key, ARTICLES));
    let mut seen = std::collections::HashSet::new();
    keys.retain(|k| !k.is_empty() && seen.insert(k.clone()));
    Query { keys, year }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn years_are_split_off_and_optional() {
        assert_eq!(
            split_year("Matrix, The (1999)"),
            ("Matrix, The", Some(1999))
        );
        assert_eq!(split_year("  Heat (1995)  "), ("Heat", Some(1995)));
        assert_eq!(split_year("the matrix"), ("the matrix", None));
        assert_eq!(
            split_year("Death Note: Desu nôto (2006–2007)"),
            ("Death Note: Desu nôto", Some(2006))
        );
        assert_eq!(split_year("Show (2010-)"), ("Show", Some(2010)));
        // Not a year group, or nothing in front of it.
        assert_eq!(split_year("1984"), ("1984", None));
        assert_eq!(split_year("(1999)"), ("(1999)", None));
        assert_eq!(split_year("Foo (99)"), ("Foo (99)", None));
        assert_eq!(split_year("Foo (1999a)"), ("Foo (1999a)", None));
    }

    #[test]
    fn alternative_titles_in_parentheses() {
        assert_eq!(
            split_alternatives("City of Lost Children, The (Cité des enfants perdus, La)"),
            (
                "City of Lost Children, The".to_string(),
                vec!["Cité des enfants perdus, La".to_string()]
            )
        );
        assert_eq!(
            split_alternatives("Léon: The Professional (a.k.a. The Professional) (Léon)"),
            (
                "Léon: The Professional".to_string(),
                vec!["The Professional".to_string(), "Léon".to_string()]
            )
        );
        assert_eq!(
            split_alternatives("Twelve Monkeys (a.k.a. 12 Monkeys)").1,
            ["12 Monkeys"]
        );
        assert_eq!(split_alternatives("Foo (Bar (Baz))").1, ["Bar (Baz)"]);
        // A title that is only parentheses, or a group without a space before it, stays whole.
        assert_eq!(split_alternatives("(Untitled)").0, "(Untitled)");
        assert_eq!(split_alternatives("Foo(bar)").0, "Foo(bar)");
        assert_eq!(split_alternatives("Unbalanced)").0, "Unbalanced)");
    }

    #[test]
    fn articles_move_to_the_front() {
        assert_eq!(article_to_front("Matrix, The").unwrap(), "The Matrix");
        assert_eq!(
            article_to_front("Walk in the Clouds, A").unwrap(),
            "A Walk in the Clouds"
        );
        assert_eq!(
            article_to_front("Awfully Big Adventure, An").unwrap(),
            "An Awfully Big Adventure"
        );
        assert_eq!(
            article_to_front("Misérables, Les").unwrap(),
            "Les Misérables"
        );
        assert_eq!(article_to_front("Haine, La").unwrap(), "La Haine");
        assert_eq!(
            article_to_front("Colonel Chabert, Le").unwrap(),
            "Le Colonel Chabert"
        );
        assert_eq!(article_to_front("Postino, Il").unwrap(), "Il Postino");
        assert_eq!(article_to_front("Boot, Das").unwrap(), "Das Boot");
        assert_eq!(
            article_to_front("Himmel über Berlin, Der").unwrap(),
            "Der Himmel über Berlin"
        );
        assert_eq!(
            article_to_front("Blechtrommel, Die").unwrap(),
            "Die Blechtrommel"
        );
        assert_eq!(
            article_to_front("Día de la Bestia, El").unwrap(),
            "El Día de la Bestia"
        );
        assert_eq!(article_to_front("Avventura, L'").unwrap(), "L'Avventura");
        assert_eq!(article_to_front("Avventura, L’").unwrap(), "L’Avventura");
        // Not articles.
        assert_eq!(article_to_front("Paris, Texas"), None);
        assert_eq!(article_to_front("Monsters, Inc."), None);
        assert_eq!(article_to_front("The Matrix"), None);
    }

    #[test]
    fn keys_ignore_case_space_punctuation_and_accents() {
        assert_eq!(normalize("  The   MATRIX "), "the matrix");
        assert_eq!(normalize("Léon: The Professional"), "leon the professional");
        assert_eq!(normalize("Schindler's List"), normalize("Schindlers List"));
        assert_eq!(normalize("Dumb & Dumber"), "dumb and dumber");
        assert_eq!(
            normalize("Star Wars: Episode IV - A New Hope"),
            "star wars episode iv a new hope"
        );
        assert_eq!(normalize("Amélie"), "amelie");
        assert_eq!(normalize("Straße"), "strasse");
        assert_eq!(normalize("L'Avventura"), normalize("l’avventura"));
        assert_eq!(normalize("!!!"), "");
    }

    #[test]
    fn queries_meet_table_keys() {
        let item = item_keys("Matrix, The");
        let has = |keys: &[(String, KeyKind)], k: &str| keys.iter().any(|(x, _)| x == k);
        for q in [
            "The Matrix (1999)",
            "the matrix",
            "Matrix, The (1999)",
            "THE  MATRIX!",
            "matrix",
        ] {
            assert!(has(&item, &parse_query(q).keys[0]), "{q}");
        }
        assert_eq!(parse_query("The Matrix (1999)").year, Some(1999));
        assert_eq!(parse_query("the matrix").year, None);

        let lost = item_keys("City of Lost Children, The (Cité des enfants perdus, La)");
        assert_eq!(lost[0], ("the city of lost children".into(), KeyKind::Main));
        assert!(lost.contains(&("la cite des enfants perdus".into(), KeyKind::Alternative)));
        assert!(lost.contains(&("city of lost children".into(), KeyKind::WithoutArticle)));
        assert!(has(
            &lost,
            &parse_query("The City of Lost Children (1995)").keys[0]
        ));
        assert!(has(
            &lost,
            &parse_query("La Cité des enfants perdus").keys[0]
        ));

        let postman = item_keys("Postman, The (Postino, Il)");
        assert!(has(&postman, &parse_query("Il Postino").keys[0]));
        assert!(has(
            &item_keys("Avventura, L'"),
            &parse_query("L'Avventura (1960)").keys[0]
        ));
        assert!(has(
            &item_keys("Boot, Das"),
            &parse_query("Das Boot").keys[0]
        ));
        assert!(has(&item_keys("Avventura, L'"), "avventura"));

        // Front articles of other languages are words of the title: `Die Hard` is not `Hard`.
        assert_eq!(
            item_keys("Die Hard"),
            [("die hard".to_string(), KeyKind::Main)]
        );
        assert!(has(&item_keys("The OA"), "oa"));
        // A query falls back to its title without a leading article.
        assert_eq!(parse_query("Les Boot").keys, ["les boot", "boot"]);
    }

    #[test]
    fn a_trailing_word_starting_with_a_multibyte_letter_is_no_article() {
        // Found by the item_table fuzz target: `, É'` once sliced inside `É`.
        assert_eq!(article_to_front("Foo, É'"), None);
        assert_eq!(article_to_front("Foo, 東京"), None);
        assert_eq!(article_to_front("Foo, L’"), Some("L’Foo".into()));
    }
}
