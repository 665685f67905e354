use proptest::prelude::*;

use super::*;

fn detectors() -> Detectors {
    Detectors::new(&[]).expect("built-in detectors")
}

/// `body` followed by the Luhn check digit that makes it valid.
fn with_check_digit(body: &str) -> String {
    (0..10)
        .map(|d| format!("{body}{d}"))
        .find(|n| luhn_valid(n))
        .expect("one of ten check digits is valid")
}

#[test]
fn given_known_card_numbers_then_luhn_accepts_them_and_rejects_a_changed_digit() {
    for n in [
        "4111111111111111",
        "5555555555554444",
        "378282246310005",
        "6011111111111117",
    ] {
        assert!(luhn_valid(n), "{n}");
    }
    assert!(!luhn_valid("4111111111111112"));
    assert!(!luhn_valid(""));
    assert!(!luhn_valid("4111 1111"));
}

#[test]
fn given_card_shapes_in_text_then_only_luhn_valid_13_to_19_digits_fire() {
    let d = detectors();
    for hit in [
        "4111 1111 1111 1111",
        "card: 4111-1111-1111-1111, exp 12/29",
        "4111111111111111",
        "4111 1111 1111 1111 123",
        "amex 3782 822463 10005",
    ] {
        assert!(d.has_card(hit), "{hit}");
        assert_eq!(d.fired(hit), vec![CARD], "{hit}");
    }
    for miss in [
        "4111 1111 1111 1112",
        "+1 555 0107",
        "41111111111111111111111111",
        "order 2024-01-15 12:30",
        "4111  1111  1111  1111",
        "",
    ] {
        assert!(!d.has_card(miss), "{miss}");
    }
}

#[test]
fn given_addresses_then_only_those_outside_reserved_domains_fire() {
    let d = detectors();
    for hit in [
        "jane.doe7@corp-mail.com",
        "Contact: Jane <JANE+billing@Mail.Example.co.uk>",
        "ops@example.invalid, a.b@gmail.com",
    ] {
        assert!(d.has_email(hit), "{hit}");
    }
    for miss in [
        "customer7@example.invalid",
        "x@example.com",
        "x@mail.example.org",
        "someone@host.test",
        "root@localhost",
        "no address here",
        "user@",
        "@corp-mail.com",
        "a@b",
    ] {
        assert!(!d.has_email(miss), "{miss}");
    }
}

#[test]
fn given_configured_patterns_then_they_fire_by_name_and_bad_ones_are_refused_by_name() {
    let patterns =
        parse_patterns(r#"{"ssn": "\\b\\d{3}-\\d{2}-\\d{4}\\b", "iban": "\\bDE\\d{20}\\b"}"#)
            .expect("patterns");
    let d = Detectors::new(&patterns).expect("detectors");
    assert_eq!(d.fired("ssn 123-45-6789"), vec!["ssn"]);
    assert_eq!(
        d.fired("DE89370400440532013000 jane@corp-mail.com"),
        vec![EMAIL, "iban"]
    );
    assert!(parse_patterns("").expect("empty").is_empty());
    assert!(parse_patterns("  ").expect("blank").is_empty());
    let bad = parse_patterns(r#"{"ssn": "(unclosed"}"#).expect_err("bad regex");
    assert!(
        matches!(&bad, PatternError::BadRegex { name, .. } if name == "ssn"),
        "{bad}"
    );
    assert!(matches!(
        parse_patterns(r#"{"email": "x"}"#),
        Err(PatternError::BadName(_))
    ));
    assert!(matches!(
        parse_patterns(r#"{"Bad Name": "x"}"#),
        Err(PatternError::BadName(_))
    ));
    assert!(matches!(
        parse_patterns(r#"["x"]"#),
        Err(PatternError::NotJson(_))
    ));
    assert!(matches!(
        parse_patterns(r#"{"x": 1}"#),
        Err(PatternError::NotJson(_))
    ));
}

proptest! {
    #[test]
    fn given_any_valid_number_then_changing_one_digit_breaks_luhn(
        body in "[0-9]{12,18}", pos in 0usize..19, delta in 1u8..10
    ) {
        let n = with_check_digit(&body);
        prop_assert!(luhn_valid(&n));
        let pos = pos % n.len();
        let mut bytes = n.into_bytes();
        bytes[pos] = b'0' + (bytes[pos] - b'0' + delta) % 10;
        let changed = String::from_utf8(bytes).expect("digits");
        prop_assert!(!luhn_valid(&changed), "{}", changed);
    }

    #[test]
    fn given_a_valid_number_written_in_groups_inside_text_then_the_card_detector_fires(
        body in "[0-9]{12,18}", sep in "[ -]", before in "[a-z:]{0,10}", after in "[a-z,.]{0,10}"
    ) {
        let n = with_check_digit(&body);
        let grouped: Vec<String> = n
            .as_bytes()
            .chunks(4)
            .map(|c| String::from_utf8_lossy(c).into_owned())
            .collect();
        let text = format!("{before} {} {after}", grouped.join(&sep));
        prop_assert!(detectors().has_card(&text), "{}", text);
    }

    #[test]
    fn given_any_address_then_the_email_detector_fires_unless_the_domain_is_reserved(
        local in "[a-z0-9._+-]{1,20}", label in "[a-z0-9]{1,15}", tld in "[a-z]{2,6}"
    ) {
        let text = format!("to: {local}@{label}.{tld};");
        prop_assert_eq!(
            detectors().has_email(&text),
            !is_reserved_domain(&format!("{label}.{tld}"))
        );
    }

    #[test]
    fn given_text_without_at_sign_or_digits_then_no_built_in_detector_fires(text in "[^@0-9]{0,200}") {
        prop_assert!(detectors().fired(&text).is_empty());
    }
}
