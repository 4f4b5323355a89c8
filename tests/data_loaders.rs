//! Loaders on hand-written fixtures (all formats, including Amazon) and on the real MovieLens
//! files in `../shared/data` (skipped, with a notice, when that folder is absent).

use alro_core::data::{amazon, movielens, Dataset, DatasetStats, Input, LoadOptions};
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}
fn fixture(rel: &str) -> Vec<u8> {
    std::fs::read(root().join("tests/fixtures/data").join(rel)).unwrap()
}
/// `../shared/data/<name>` beside the workspace, if present.
fn shared(name: &str) -> Option<PathBuf> {
    let p = root().join("../shared/data").join(name);
    if p.is_dir() {
        Some(p)
    } else {
        eprintln!(
            "notice: {} is absent; skipping the real-data check",
            p.display()
        );
        None
    }
}
fn input<'a>(name: &'a str, bytes: &'a [u8]) -> Input<'a> {
    Input { name, bytes }
}

#[test]
fn amazon_2014_fixture_without_metadata() {
    let bytes = fixture("amazon-2014/reviews_Digital_Music_5.json");
    let ds = amazon::load_amazon(
        "amazon-2014",
        input("reviews.json", &bytes),
        None,
        &LoadOptions::default(),
    )
    .unwrap();
    assert_eq!(
        (ds.users.len(), ds.items.len(), ds.ratings.len()),
        (3, 3, 7)
    );
    assert_eq!(ds.report.duplicates_removed, 1);
    // The duplicate (A38IRL0X2T4DPF, B00000016W): the later review (rating 1) wins.
    let u = ds.user_index("A38IRL0X2T4DPF").unwrap();
    let i = ds.item_index("B00000016W").unwrap() as u32;
    let r = ds.user_ratings(u).iter().find(|r| r.item == i).unwrap();
    assert_eq!(r.rating, 1.0);
    assert!(ds.items.iter().all(|it| it.title == it.id));
}

#[test]
fn amazon_2018_fixture_with_metadata() {
    let reviews = fixture("amazon-2018/Digital_Music.json");
    let meta = fixture("amazon-2018/meta_Digital_Music.json");
    let strict = amazon::load_amazon(
        "amazon-2018",
        input("Digital_Music.json", &reviews),
        Some(input("meta.json", &meta)),
        &LoadOptions::default(),
    );
    let err = strict.unwrap_err().to_string();
    assert!(
        err.starts_with("Digital_Music.json:5: item \"B0000000ZW\" is not in the metadata file"),
        "{err}"
    );
    let opts = LoadOptions {
        skip_bad_lines: true,
        ..Default::default()
    };
    let ds = amazon::load_amazon(
        "amazon-2018",
        input("Digital_Music.json", &reviews),
        Some(input("meta.json", &meta)),
        &opts,
    )
    .unwrap();
    assert_eq!(
        (ds.users.len(), ds.ratings.len(), ds.report.skipped_lines),
        (2, 4, 1)
    );
    let titles: Vec<&str> = ds.items.iter().map(|i| i.title.as_str()).collect();
    assert_eq!(
        titles,
        vec!["Slayer Live Intrusion", "Simon & Garfunkel: Greatest Hits"]
    );
}

#[test]
fn kcore_on_the_amazon_fixture() {
    let bytes = fixture("amazon-2014/reviews_Digital_Music_5.json");
    let opts = LoadOptions {
        kcore: Some(3),
        ..Default::default()
    };
    let ds =
        amazon::load_amazon("amazon-2014", input("reviews.json", &bytes), None, &opts).unwrap();
    // Items: 5555991584 has 3 ratings, B000000OQF 2, B00000016W 2; users: 3, 2, 2 ratings.
    // k=3 drops the two 2-rating items, then every user has < 3: nothing is left.
    assert_eq!(ds.ratings.len(), 0);
    let opts = LoadOptions {
        kcore: Some(2),
        ..Default::default()
    };
    let ds =
        amazon::load_amazon("amazon-2014", input("reviews.json", &bytes), None, &opts).unwrap();
    assert_eq!(ds.ratings.len(), 7);
}

#[test]
fn malformed_movielens_fixture_lines() {
    let data = fixture("ml-100k-bad/u.data");
    let items = fixture("ml-100k-bad/u.item");
    let err = movielens::load_ml100k(
        input("u.data", &data),
        input("u.item", &items),
        &LoadOptions::default(),
    )
    .unwrap_err();
    assert!(
        err.to_string().starts_with("u.data:3: expected 4 fields"),
        "{err}"
    );
    let opts = LoadOptions {
        skip_bad_lines: true,
        ..Default::default()
    };
    let ds =
        movielens::load_ml100k(input("u.data", &data), input("u.item", &items), &opts).unwrap();
    assert_eq!(ds.report.skipped_lines, 4);
    let msgs = ds.report.skipped_messages.join("\n");
    for want in [
        "u.data:3: expected 4 fields",
        "u.data:4: rating \"good\" is not a number",
        "u.data:5: rating \"9\" is out of range",
        "u.data:6: item \"7\" is not in the item file",
    ] {
        assert!(msgs.contains(want), "{msgs}");
    }
    assert_eq!(ds.ratings.len(), 3);
    assert_eq!(ds.items[0].title, "Café Society (1995)");
}

fn load_ml100k(dir: &Path) -> Dataset {
    let data = std::fs::read(dir.join("u.data")).unwrap();
    let items = std::fs::read(dir.join("u.item")).unwrap();
    movielens::load_ml100k(
        input("u.data", &data),
        input("u.item", &items),
        &LoadOptions::default(),
    )
    .unwrap()
}

#[test]
fn real_ml100k_counts_and_latin1_titles() {
    let Some(dir) = shared("ml-100k") else { return };
    let ds = load_ml100k(&dir);
    let s = DatasetStats::of(&ds);
    assert_eq!(
        (s.ratings, s.users, s.items, s.catalog_items),
        (100_000, 943, 1_682, 1_682)
    );
    let hist: Vec<(String, usize)> = s.histogram.clone();
    let want: Vec<(String, usize)> = [
        ("1", 6110),
        ("2", 11370),
        ("3", 27145),
        ("4", 34174),
        ("5", 21201),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), *v))
    .collect();
    assert_eq!(hist, want);
    assert_eq!((s.min_ratings_per_user, s.max_ratings_per_user), (20, 737));
    let title = |id: &str| ds.items[ds.item_index(id).unwrap()].title.clone();
    assert_eq!(title("543"), "Misérables, Les (1995)");
    assert_eq!(title("1633"), "Á köldum klaka (Cold Fever) (1994)");
    assert!(ds.items.iter().all(|i| !i.title.contains('\u{FFFD}')));
}

#[test]
fn real_ml1m_movies_are_latin1() {
    let Some(dir) = shared("ml-1m") else { return };
    let movies = std::fs::read(dir.join("movies.dat")).unwrap();
    // Ratings are read by the CLI (xz); here only the catalog matters: load it with no ratings.
    let ds = movielens::load_ml1m(
        input("ratings.dat", b""),
        input("movies.dat", &movies),
        &LoadOptions::default(),
    )
    .unwrap();
    assert_eq!(ds.items.len(), 3_883);
    assert_eq!(
        ds.items[ds.item_index("73").unwrap()].title,
        "Misérables, Les (1995)"
    );
    assert!(ds.items.iter().all(|i| !i.title.contains('\u{FFFD}')));
}

#[test]
fn real_ml_latest_small_half_stars_and_crlf() {
    let Some(dir) = shared("ml-latest-small") else {
        return;
    };
    let r = std::fs::read(dir.join("ratings.csv")).unwrap();
    let m = std::fs::read(dir.join("movies.csv")).unwrap();
    let ds = movielens::load_ml_latest(
        "ml-latest-small",
        input("ratings.csv", &r),
        input("movies.csv", &m),
        &LoadOptions::default(),
    )
    .unwrap();
    let s = DatasetStats::of(&ds);
    assert_eq!(
        (s.ratings, s.users, s.items, s.catalog_items),
        (100_836, 610, 9_724, 9_742)
    );
    assert_eq!(s.histogram[0], ("0.5".to_string(), 1_370));
    assert!(ds.items.iter().all(|i| !i.title.ends_with('\r')));
}
