//! Label selectors (metav1.LabelSelector) compiled into matchers.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use std::collections::BTreeMap;
use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Requirement {
    Equals(String, String),
    In(String, Vec<String>),
    NotIn(String, Vec<String>),
    Exists(String),
    DoesNotExist(String),
    /// An operator the API would reject: matches nothing.
    Invalid(String, String),
}

/// A compiled label selector. Empty matches everything.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Selector {
    reqs: Vec<Requirement>,
}

impl Selector {
    /// Everything (`{}` or an absent selector).
    pub fn everything() -> Self {
        Selector::default()
    }

    /// Compile; the second value lists problems the API server would have rejected.
    pub fn compile(sel: &LabelSelector) -> (Selector, Vec<String>) {
        let mut reqs = Vec::new();
        let mut problems = Vec::new();
        for (k, v) in sel.match_labels.iter().flatten() {
            reqs.push(Requirement::Equals(k.clone(), v.clone()));
        }
        for e in sel.match_expressions.iter().flatten() {
            let values = e.values.clone().unwrap_or_default();
            let req = match e.operator.as_str() {
                "In" => Requirement::In(e.key.clone(), values),
                "NotIn" => Requirement::NotIn(e.key.clone(), values),
                "Exists" => Requirement::Exists(e.key.clone()),
                "DoesNotExist" => Requirement::DoesNotExist(e.key.clone()),
                other => {
                    problems.push(format!(
                        "matchExpressions operator '{other}' (key {}) is not In, NotIn, Exists or DoesNotExist; it matches nothing",
                        e.key
                    ));
                    Requirement::Invalid(e.key.clone(), other.to_string())
                }
            };
            reqs.push(req);
        }
        (Selector { reqs }, problems)
    }

    pub fn is_everything(&self) -> bool {
        self.reqs.is_empty()
    }

    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        self.reqs.iter().all(|r| match r {
            Requirement::Equals(k, v) => labels.get(k) == Some(v),
            Requirement::In(k, vs) => labels.get(k).is_some_and(|v| vs.contains(v)),
            Requirement::NotIn(k, vs) => labels.get(k).is_none_or(|v| !vs.contains(v)),
            Requirement::Exists(k) => labels.contains_key(k),
            Requirement::DoesNotExist(k) => !labels.contains_key(k),
            Requirement::Invalid(..) => false,
        })
    }

    /// Labels a pod would need to be selected, best effort (for static
    /// checks): equalities, the first value of `In`, a placeholder for `Exists`.
    pub fn example_labels(&self) -> BTreeMap<String, String> {
        let mut out = BTreeMap::new();
        for r in &self.reqs {
            match r {
                Requirement::Equals(k, v) => {
                    out.insert(k.clone(), v.clone());
                }
                Requirement::In(k, vs) => {
                    if let Some(v) = vs.first() {
                        out.entry(k.clone()).or_insert_with(|| v.clone());
                    }
                }
                Requirement::Exists(k) => {
                    out.entry(k.clone()).or_insert_with(|| "x".to_string());
                }
                _ => {}
            }
        }
        out
    }
}

impl fmt::Display for Selector {
    /// kubectl's selector syntax: `app=web,tier in (a,b),!legacy`; `{}` for everything.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.reqs.is_empty() {
            return f.write_str("{}");
        }
        let parts: Vec<String> = self
            .reqs
            .iter()
            .map(|r| match r {
                Requirement::Equals(k, v) => format!("{k}={v}"),
                Requirement::In(k, vs) => format!("{k} in ({})", vs.join(",")),
                Requirement::NotIn(k, vs) => format!("{k} notin ({})", vs.join(",")),
                Requirement::Exists(k) => k.clone(),
                Requirement::DoesNotExist(k) => format!("!{k}"),
                Requirement::Invalid(k, op) => format!("{k} {op}?"),
            })
            .collect();
        f.write_str(&parts.join(","))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelectorRequirement;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn expr(key: &str, op: &str, values: &[&str]) -> LabelSelectorRequirement {
        LabelSelectorRequirement {
            key: key.into(),
            operator: op.into(),
            values: (!values.is_empty()).then(|| values.iter().map(|v| v.to_string()).collect()),
        }
    }

    fn sel(exprs: Vec<LabelSelectorRequirement>) -> Selector {
        Selector::compile(&LabelSelector {
            match_labels: None,
            match_expressions: Some(exprs),
        })
        .0
    }

    #[test]
    fn operators() {
        let web = labels(&[("app", "web")]);
        let none = labels(&[]);
        assert!(sel(vec![expr("app", "In", &["web", "db"])]).matches(&web));
        assert!(!sel(vec![expr("app", "In", &["db"])]).matches(&web));
        assert!(!sel(vec![expr("app", "In", &["web"])]).matches(&none));
        assert!(sel(vec![expr("app", "NotIn", &["db"])]).matches(&web));
        assert!(sel(vec![expr("app", "NotIn", &["db"])]).matches(&none));
        assert!(!sel(vec![expr("app", "NotIn", &["web"])]).matches(&web));
        assert!(sel(vec![expr("app", "Exists", &[])]).matches(&web));
        assert!(!sel(vec![expr("app", "Exists", &[])]).matches(&none));
        assert!(sel(vec![expr("app", "DoesNotExist", &[])]).matches(&none));
        assert!(!sel(vec![expr("app", "DoesNotExist", &[])]).matches(&web));
        let (bad, problems) = Selector::compile(&LabelSelector {
            match_labels: None,
            match_expressions: Some(vec![expr("app", "Like", &["w"])]),
        });
        assert!(!bad.matches(&web));
        assert_eq!(problems.len(), 1);
    }

    #[test]
    fn match_labels_and_expressions_are_anded() {
        let s = Selector::compile(&LabelSelector {
            match_labels: Some(labels(&[("app", "web")])),
            match_expressions: Some(vec![expr("tier", "In", &["front"])]),
        })
        .0;
        assert!(s.matches(&labels(&[("app", "web"), ("tier", "front")])));
        assert!(!s.matches(&labels(&[("app", "web")])));
        assert_eq!(s.to_string(), "app=web,tier in (front)");
        assert!(Selector::everything().matches(&labels(&[])));
    }
}
