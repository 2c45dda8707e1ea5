//! Hash and crypto functions: hex digests, bcrypt and UUIDs. `rsadecrypt` is refused with a
//! clear error: decrypting secrets belongs outside the template.

use hcl::Value;
use sha2::Digest;

use super::{int_arg, str_arg};

pub(super) fn md5(args: &[Value]) -> Result<Value, String> {
    let s = str_arg(args, 0, "str")?;
    Ok(Value::String(format!("{:x}", ::md5::compute(s.as_bytes()))))
}

pub(super) fn sha1(args: &[Value]) -> Result<Value, String> {
    let s = str_arg(args, 0, "str")?;
    Ok(Value::String(hex::encode(::sha1::Sha1::digest(s.as_bytes()))))
}

pub(super) fn sha256(args: &[Value]) -> Result<Value, String> {
    let s = str_arg(args, 0, "str")?;
    Ok(Value::String(hex::encode(sha2::Sha256::digest(s.as_bytes()))))
}

pub(super) fn sha512(args: &[Value]) -> Result<Value, String> {
    let s = str_arg(args, 0, "str")?;
    Ok(Value::String(hex::encode(sha2::Sha512::digest(s.as_bytes()))))
}

/// `bcrypt(str, cost = 10)`, in the `$2a$` form Go's bcrypt writes.
pub(super) fn bcrypt(args: &[Value]) -> Result<Value, String> {
    let s = str_arg(args, 0, "str")?;
    let cost = if args.len() > 1 { int_arg(args, 1, "cost")? } else { 10 };
    if !(4..=31).contains(&cost) {
        return Err(format!("crypto/bcrypt: cost {cost} is outside allowed range (4,31)"));
    }
    let parts = ::bcrypt::hash_with_result(s.as_bytes(), cost as u32)
        .map_err(|e| format!("error occured generating password {e}"))?;
    Ok(Value::String(parts.format_for_version(::bcrypt::Version::TwoA)))
}

pub(super) fn uuidv4(_args: &[Value]) -> Result<Value, String> {
    Ok(Value::String(uuid::Uuid::new_v4().to_string()))
}

/// `uuidv5(namespace, name)`: namespace is `dns`, `url`, `oid`, `x500` or a UUID.
pub(super) fn uuidv5(args: &[Value]) -> Result<Value, String> {
    let ns = str_arg(args, 0, "namespace")?;
    let name = str_arg(args, 1, "name")?;
    let namespace = match ns.as_str() {
        "dns" => uuid::Uuid::NAMESPACE_DNS,
        "url" => uuid::Uuid::NAMESPACE_URL,
        "oid" => uuid::Uuid::NAMESPACE_OID,
        "x500" => uuid::Uuid::NAMESPACE_X500,
        other => uuid::Uuid::parse_str(other).map_err(|_| {
            // the reason Go's uuid parser gives
            let reason = if [32, 36, 38, 41, 45].contains(&other.len()) {
                "invalid UUID format".to_string()
            } else {
                format!("invalid UUID length: {}", other.len())
            };
            format!("uuidv5() doesn't support namespace {other} ({reason})")
        })?,
    };
    Ok(Value::String(uuid::Uuid::new_v5(&namespace, name.as_bytes()).to_string()))
}

pub(super) fn rsadecrypt(args: &[Value]) -> Result<Value, String> {
    str_arg(args, 0, "ciphertext")?;
    str_arg(args, 1, "privatekey")?;
    Err("rsadecrypt is not supported: decrypt the value before the build and pass it in as a sensitive variable".to_string())
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use hcl::Value;

    #[test]
    fn digests() {
        assert_eq!(call("md5", vec![s("hello world")]), s("5eb63bbbe01eeed093cb22bb8f5acdc3"));
        assert!(call_err("md5", vec![list(vec![])]).contains("string required"));
        assert_eq!(call("sha1", vec![s("hello world")]), s("2aae6c35c94fcfb415dbe95f408b9ce91ee846ed"));
        assert!(call_err("sha1", vec![Value::Null]).contains("null"));
        assert_eq!(
            call("sha256", vec![s("hello world")]),
            s("b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9")
        );
        assert!(call_err("sha256", vec![obj(vec![])]).contains("string required"));
        assert_eq!(
            call("sha512", vec![s("hello world")]),
            s("309ecc489c12d6eb4cc40f50c902f2b4d0ed77ee511a7c7a9bcd3ca86d4cd86f989dd35bc5ff499670da34255b45b0cfd830e81f605dcf7dc5542e93ae9cd76f")
        );
        assert!(call_err("sha512", vec![]).contains("expects 1"));
    }

    #[test]
    fn bcrypt_hashes_verify() {
        let Value::String(h) = call("bcrypt", vec![s("hello world"), n(4.0)]) else { panic!("string") };
        assert!(h.starts_with("$2a$04$"), "{h}");
        assert!(bcrypt::verify("hello world", &h).unwrap());
        assert!(!bcrypt::verify("other", &h).unwrap());
        assert_eq!(
            call_err("bcrypt", vec![s("x"), n(3.0)]),
            "crypto/bcrypt: cost 3 is outside allowed range (4,31)"
        );
    }

    #[test]
    fn uuids() {
        let Value::String(a) = call("uuidv4", vec![]) else { panic!("string") };
        let Value::String(b) = call("uuidv4", vec![]) else { panic!("string") };
        assert_ne!(a, b);
        let parsed = uuid::Uuid::parse_str(&a).unwrap();
        assert_eq!(parsed.get_version_num(), 4);
        assert!(call_err("uuidv4", vec![s("x")]).contains("expects 0 arguments"));
        let Value::String(c) = call("uuid", vec![]) else { panic!("string") };
        assert_eq!(uuid::Uuid::parse_str(&c).unwrap().get_version_num(), 4);
        assert!(call_err("uuid", vec![n(1.0)]).contains("expects 0 arguments"));
        assert_eq!(
            call("uuidv5", vec![s("dns"), s("www.terraform.io")]),
            s("a5008fae-b28c-5ba5-96cd-82b4c53552d6")
        );
        assert_eq!(
            call("uuidv5", vec![s("6ba7b810-9dad-11d1-80b4-00c04fd430c8"), s("www.terraform.io")]),
            s("a5008fae-b28c-5ba5-96cd-82b4c53552d6")
        );
        assert_eq!(call_err("uuidv5", vec![s("bogus"), s("x")]), "uuidv5() doesn't support namespace bogus (invalid UUID length: 5)");
    }

    #[test]
    fn rsadecrypt_is_refused() {
        assert!(call_err("rsadecrypt", vec![s("x"), s("y")]).starts_with("rsadecrypt is not supported"));
        // the typical call is refused too: there is no success case to check
        let f = super::super::lookup("rsadecrypt").unwrap();
        assert!((f.call)(&[s("eA=="), s("-----BEGIN RSA PRIVATE KEY-----")]).is_err());
    }
}
