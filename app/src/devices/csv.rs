//! CSV for the fleet: a small RFC 4180 reader (quoted fields, doubled quotes, CRLF or LF,
//! line breaks inside quotes) that reports the line each record starts on, and the writer the
//! export uses. Shared: the import page previews the file the server will parse.

use serde::{Deserialize, Serialize};

/// One record of a CSV file and the (1-based) line it starts on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    pub line: usize,
    pub fields: Vec<String>,
}

/// Why a CSV file could not be read at all (bad records of a readable file are the
/// importer's business, row by row).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct CsvError {
    pub line: usize,
    pub message: String,
}

/// Reads every record; blank lines are skipped. The only unreadable file is one with a quote
/// that never closes (everything after it would be one field).
pub fn parse(text: &str) -> Result<Vec<Record>, CsvError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut records = Vec::new();
    let mut fields: Vec<String> = Vec::new();
    let mut field = String::new();
    let mut line = 1;
    let mut start = 1;
    let mut quoted = false;
    // Whether the current field began with a quote (text after its closing quote is kept).
    let mut chars = text.chars().peekable();
    let mut at_field_start = true;
    while let Some(c) = chars.next() {
        if quoted {
            match c {
                '"' if chars.peek() == Some(&'"') => {
                    chars.next();
                    field.push('"');
                }
                '"' => quoted = false,
                '\n' => {
                    line += 1;
                    field.push('\n');
                }
                c => field.push(c),
            }
            continue;
        }
        match c {
            '"' if at_field_start => {
                quoted = true;
                at_field_start = false;
            }
            ',' => {
                fields.push(std::mem::take(&mut field));
                at_field_start = true;
            }
            '\r' if chars.peek() == Some(&'\n') => {}
            '\n' | '\r' => {
                fields.push(std::mem::take(&mut field));
                finish(&mut records, std::mem::take(&mut fields), start);
                line += 1;
                start = line;
                at_field_start = true;
            }
            c => {
                field.push(c);
                at_field_start = false;
            }
        }
    }
    if quoted {
        return Err(CsvError {
            line: start,
            message: "a quoted field is never closed".into(),
        });
    }
    if !field.is_empty() || !fields.is_empty() {
        fields.push(field);
        finish(&mut records, fields, start);
    }
    Ok(records)
}

fn finish(records: &mut Vec<Record>, fields: Vec<String>, line: usize) {
    let blank = fields.iter().all(|f| f.trim().is_empty());
    if !blank {
        records.push(Record { line, fields });
    }
}

/// One CSV field: quoted when it holds a comma, quote or line break. A leading `=`, `+`,
/// `-` or `@` on text would make spreadsheets run it as a formula, so such text gets a `'`
/// (numbers, which may start with `-`, are left alone).
pub fn field(value: &str) -> String {
    let formula = value.starts_with(['=', '+', '-', '@']) && value.parse::<f64>().is_err();
    let value = if formula {
        format!("'{value}")
    } else {
        value.to_string()
    };
    if value.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", value.replace('"', "\"\""))
    } else {
        value
    }
}

/// One CSV line (with CRLF, as RFC 4180 asks).
pub fn line<S: AsRef<str>>(values: &[S]) -> String {
    let mut out = values
        .iter()
        .map(|v| field(v.as_ref()))
        .collect::<Vec<_>>()
        .join(",");
    out.push_str("\r\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(text: &str) -> Vec<Vec<String>> {
        parse(text).unwrap().into_iter().map(|r| r.fields).collect()
    }

    #[test]
    fn plain_and_quoted_fields() {
        assert_eq!(
            fields("a,b,c\n1,\"two, with comma\",\"say \"\"hi\"\"\"\n"),
            vec![
                vec!["a", "b", "c"],
                vec!["1", "two, with comma", "say \"hi\""]
            ]
        );
    }

    #[test]
    fn crlf_blank_lines_and_a_missing_final_newline() {
        assert_eq!(
            fields("a,b\r\n\r\n1,2\r\n,\r\n3,4"),
            vec![vec!["a", "b"], vec!["1", "2"], vec!["3", "4"]]
        );
    }

    #[test]
    fn records_know_their_first_line_even_after_a_multiline_field() {
        let records = parse("h\n\"one\ntwo\"\nthree\n").unwrap();
        assert_eq!(records[1].fields, vec!["one\ntwo"]);
        assert_eq!(records[1].line, 2);
        assert_eq!(records[2].line, 4);
    }

    #[test]
    fn an_unclosed_quote_is_an_error_with_its_line() {
        let e = parse("a\nb\n\"never closed\nmore").unwrap_err();
        assert_eq!(e.line, 3);
    }

    #[test]
    fn a_byte_order_mark_is_dropped() {
        assert_eq!(fields("\u{feff}id\nX"), vec![vec!["id"], vec!["X"]]);
    }

    #[test]
    fn written_fields_read_back_unchanged() {
        let values = [
            "plain",
            "with, comma",
            "quote \" inside",
            "two\nlines",
            "-12.5",
            "",
        ];
        let text = line(&values);
        assert_eq!(fields(&text), vec![values.to_vec()]);
    }

    #[test]
    fn formulas_are_defused_on_export() {
        assert_eq!(field("=HYPERLINK(\"x\")"), "\"'=HYPERLINK(\"\"x\"\")\"");
        assert_eq!(field("@cmd"), "'@cmd");
        assert_eq!(field("-104.99"), "-104.99");
    }

    #[test]
    fn nothing_panics_on_odd_input() {
        for text in [
            "", "\"", "\"\"", ",,,", "\r", "\n\n\n", "a\"b\"c", "\"a\"b,c",
        ] {
            let _ = parse(text);
        }
        assert_eq!(fields("a\"b\"c"), vec![vec!["a\"b\"c"]]);
        assert_eq!(fields("\"a\"b,c"), vec![vec!["ab", "c"]]);
    }
}
