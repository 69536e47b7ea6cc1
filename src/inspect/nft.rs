//! `nft -j list ruleset` → tables, chains (type, hook, priority, policy) and
//! rule counts, read with the `nftables` crate's schema types. Each object is
//! read on its own, so one statement the crate does not know (a newer nft, an
//! `xt` match from iptables-nft) costs that object's details, not the ruleset.

use crate::model::host::{NftChain, NftDrop, NftRuleset, NftSetSize, NftTable};
use nftables::schema::NfListObject;
use serde_json::Value;

/// Parse the JSON; Err only when it is not an nft JSON document at all.
pub fn parse(text: &str) -> Result<NftRuleset, String> {
    let doc: Value =
        serde_json::from_str(text).map_err(|e| format!("`nft -j` output is not JSON: {e}"))?;
    let objects = doc
        .get("nftables")
        .and_then(Value::as_array)
        .ok_or_else(|| "`nft -j` output has no \"nftables\" array".to_string())?;
    let mut rs = NftRuleset::default();
    for obj in objects {
        if add_set(&mut rs, obj) {
            continue;
        }
        // The crate's types first; the raw JSON for what they do not cover.
        match serde_json::from_value::<NfListObject>(obj.clone()) {
            Ok(NfListObject::MetainfoObject(m)) => {
                rs.version = m.version.map(|v| v.to_string());
            }
            Ok(NfListObject::Table(t)) => {
                table_mut(&mut rs, &enum_str(&t.family), &t.name);
            }
            Ok(NfListObject::Chain(c)) => {
                let family = enum_str(&c.family);
                let chain = chain_mut(table_mut(&mut rs, &family, &c.table), &c.name);
                chain.chain_type = c._type.as_ref().map(enum_str);
                chain.hook = c.hook.as_ref().map(enum_str);
                chain.priority = c.prio;
                chain.policy = c.policy.as_ref().map(enum_str);
            }
            Ok(NfListObject::Rule(r)) => {
                let family = enum_str(&r.family);
                add_rule(&mut rs, &family, &r.table, &r.chain, obj.get("rule"));
            }
            Ok(_) => {}
            Err(_) => {
                if let Some(r) = obj.get("rule") {
                    let s = |k: &str| r.get(k).and_then(Value::as_str).unwrap_or("?").to_string();
                    add_rule(&mut rs, &s("family"), &s("table"), &s("chain"), Some(r));
                } else if let Some(c) = obj.get("chain") {
                    let s = |k: &str| c.get(k).and_then(Value::as_str).map(str::to_string);
                    let t = table_mut(
                        &mut rs,
                        &s("family").unwrap_or_default(),
                        &s("table").unwrap_or_default(),
                    );
                    let chain = chain_mut(t, &s("name").unwrap_or_default());
                    chain.chain_type = s("type");
                    chain.hook = s("hook");
                    chain.policy = s("policy");
                    chain.priority = c
                        .get("prio")
                        .and_then(Value::as_i64)
                        .and_then(|p| i32::try_from(p).ok());
                } else if let Some(t) = obj.get("table") {
                    let s = |k: &str| t.get(k).and_then(Value::as_str).unwrap_or("").to_string();
                    table_mut(&mut rs, &s("family"), &s("name"));
                } else if let Some(m) = obj.get("metainfo") {
                    rs.version = m.get("version").and_then(Value::as_str).map(str::to_string);
                }
            }
        }
    }
    Ok(rs)
}

/// A serde enum as the string nft writes (`ip`, `forward`, `accept`).
fn enum_str<T: serde::Serialize>(v: &T) -> String {
    match serde_json::to_value(v) {
        Ok(Value::String(s)) => s,
        Ok(other) => other.to_string(),
        Err(_) => "?".into(),
    }
}

fn table_mut<'a>(rs: &'a mut NftRuleset, family: &str, name: &str) -> &'a mut NftTable {
    if let Some(i) = rs
        .tables
        .iter()
        .position(|t| t.family == family && t.name == name)
    {
        &mut rs.tables[i]
    } else {
        rs.tables.push(NftTable {
            family: family.to_string(),
            name: name.to_string(),
            ..Default::default()
        });
        let last = rs.tables.len() - 1;
        &mut rs.tables[last]
    }
}

/// A `set` or `map` object: its table gets its name and element count
/// (`elem`, absent when empty). False when `obj` is neither.
fn add_set(rs: &mut NftRuleset, obj: &Value) -> bool {
    let Some((kind, s)) = ["set", "map"]
        .into_iter()
        .find_map(|k| obj.get(k).map(|s| (k, s)))
    else {
        return false;
    };
    let field = |k: &str| s.get(k).and_then(Value::as_str).unwrap_or("").to_string();
    let elements = s.get("elem").and_then(Value::as_array).map_or(0, Vec::len);
    table_mut(rs, &field("family"), &field("table"))
        .sets
        .push(NftSetSize {
            name: field("name"),
            kind: kind.to_string(),
            elements,
        });
    true
}

fn chain_mut<'a>(t: &'a mut NftTable, name: &str) -> &'a mut NftChain {
    if let Some(i) = t.chains.iter().position(|c| c.name == name) {
        &mut t.chains[i]
    } else {
        t.chains.push(NftChain {
            name: name.to_string(),
            ..Default::default()
        });
        let last = t.chains.len() - 1;
        &mut t.chains[last]
    }
}

fn add_rule(rs: &mut NftRuleset, family: &str, table: &str, chain: &str, rule: Option<&Value>) {
    let t = table_mut(rs, family, table);
    t.rule_count += 1;
    let c = chain_mut(t, chain);
    c.rule_count += 1;
    if let Some(d) = rule.and_then(drop_of) {
        c.drops.push(d);
    }
}

/// A rule whose verdict is drop/reject, with the protocol and destination
/// port it matches on when it says so plainly.
pub fn drop_of(rule: &Value) -> Option<NftDrop> {
    let exprs = rule.get("expr")?.as_array()?;
    let verdict = exprs.iter().find_map(|e| {
        let o = e.as_object()?;
        ["drop", "reject"]
            .into_iter()
            .find(|k| o.contains_key(*k))
            .map(str::to_string)
    })?;
    let mut d = NftDrop {
        verdict,
        ..Default::default()
    };
    for e in exprs {
        let Some(m) = e.get("match") else {
            continue;
        };
        let op = m.get("op").and_then(Value::as_str).unwrap_or("==");
        let left = m.get("left");
        let right = m.get("right");
        let payload = left.and_then(|l| l.get("payload"));
        let meta = left.and_then(|l| l.get("meta"));
        let field = payload.and_then(|p| p.get("field")).and_then(Value::as_str);
        let proto = payload
            .and_then(|p| p.get("protocol"))
            .and_then(Value::as_str);
        let meta_key = meta.and_then(|m| m.get("key")).and_then(Value::as_str);
        match (op, proto, field, meta_key) {
            ("==", Some(p @ ("udp" | "tcp")), Some("dport"), _) => {
                d.protocol = Some(p.to_string());
                d.dport = right
                    .and_then(Value::as_u64)
                    .and_then(|v| u16::try_from(v).ok());
                if d.dport.is_none() {
                    d.other_matches = true;
                }
            }
            ("==", _, _, Some("l4proto")) | ("==", Some("ip"), Some("protocol"), _) => {
                d.protocol = right.map(|r| match r {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                });
            }
            _ => d.other_matches = true,
        }
    }
    Some(d)
}
