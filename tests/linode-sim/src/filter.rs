//! `X-Filter` as the API documents it: a JSON object whose fields must all
//! match (`tags` matches when the list contains the value), with `+and` /
//! `+or` lists of filters and `+contains` / `+neq` / `+gt` / `+lt` operators.
//! Only fields the endpoint marks Filterable are accepted.

use serde_json::Value;

/// Checks `filter` against `item`; `Err` names a field that cannot be filtered on.
pub fn matches(filter: &Value, item: &Value, filterable: &[&str]) -> Result<bool, String> {
    let Some(obj) = filter.as_object() else {
        return Err("X-Filter must be a JSON object".into());
    };
    for (k, want) in obj {
        let ok = match k.as_str() {
            "+and" => {
                let list = want.as_array().ok_or("+and must be a list")?;
                let mut all = true;
                for f in list {
                    all &= matches(f, item, filterable)?;
                }
                all
            }
            "+or" => {
                let list = want.as_array().ok_or("+or must be a list")?;
                let mut any = false;
                for f in list {
                    any |= matches(f, item, filterable)?;
                }
                any
            }
            "+order_by" | "+order" => true,
            field => {
                if !filterable.contains(&field) {
                    return Err(format!("Cannot filter on {field}"));
                }
                field_matches(&item[field], want)
            }
        };
        if !ok {
            return Ok(false);
        }
    }
    Ok(true)
}

fn field_matches(have: &Value, want: &Value) -> bool {
    if let Some(ops) = want.as_object() {
        return ops.iter().all(|(op, v)| match op.as_str() {
            "+contains" => match (have, v.as_str()) {
                (Value::String(s), Some(x)) => s.contains(x),
                (Value::Array(a), Some(x)) => {
                    a.iter().any(|e| e.as_str().is_some_and(|s| s.contains(x)))
                }
                _ => false,
            },
            "+neq" => have != v,
            "+gt" => have.as_f64().zip(v.as_f64()).is_some_and(|(a, b)| a > b),
            "+lt" => have.as_f64().zip(v.as_f64()).is_some_and(|(a, b)| a < b),
            _ => false,
        });
    }
    match have {
        // A list field (tags) matches when it contains the value.
        Value::Array(a) => a.contains(want),
        _ => have == want,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn tags_and_operators() {
        let i = json!({"label": "build-ai-x", "tags": ["build_ai", "build_ai_app=x"], "id": 5});
        let f = ["label", "tags", "id"];
        assert!(matches(&json!({"tags": "build_ai"}), &i, &f).unwrap());
        assert!(!matches(&json!({"tags": "other"}), &i, &f).unwrap());
        assert!(matches(&json!({"+or": [{"label": "no"}, {"id": 5}]}), &i, &f).unwrap());
        assert!(matches(&json!({"label": {"+contains": "ai-"}}), &i, &f).unwrap());
        assert!(matches(&json!({"region": "x"}), &i, &f).is_err());
    }
}
