//! Bearer-key authorization with two scopes. Keys are compared as SHA-256 digests with a
//! constant-time equality, so neither a key's content nor its length leaks through timing,
//! and keys are never logged.

use actix_web::HttpRequest;
use sha2::{Digest, Sha256};

use super::config::Keys;
use super::error::{ApiError, ApiErrorKind};

/// What a route needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    /// Score and read models.
    Score,
    /// Also reload models.
    Admin,
}

/// Configured keys, as digests.
#[derive(Clone, Debug, Default)]
pub struct Auth {
    score: Vec<[u8; 32]>,
    admin: Vec<[u8; 32]>,
}

fn digest(key: &str) -> [u8; 32] {
    Sha256::digest(key.as_bytes()).into()
}

/// Equality that always looks at all 32 bytes.
fn ct_eq(a: &[u8; 32], b: &[u8; 32]) -> bool {
    let mut diff = 0u8;
    for (x, y) in a.iter().zip(b) {
        diff |= x ^ y;
    }
    std::hint::black_box(diff) == 0
}

fn unauthorized(message: &str) -> ApiError {
    ApiError::new(ApiErrorKind::Unauthorized, "unauthorized", message)
}

/// The token of the request's one `Authorization: Bearer TOKEN` header. The scheme is matched
/// in any case (RFC 9110 §11.1); the token is taken exactly as sent: one space after the
/// scheme, no whitespace inside or around it, and a request with two `Authorization`
/// headers is refused rather than read by its first one.
fn bearer_token(req: &HttpRequest) -> Result<&str, ApiError> {
    let mut values = req.headers().get_all("authorization");
    let value = values
        .next()
        .ok_or_else(|| unauthorized("missing Authorization: Bearer KEY"))?;
    if values.next().is_some() {
        return Err(unauthorized("more than one Authorization header"));
    }
    let value = value
        .to_str()
        .map_err(|_| unauthorized("the Authorization header is not ASCII text"))?;
    let (_, token) = value
        .split_once(' ')
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .ok_or_else(|| unauthorized("expected Authorization: Bearer KEY"))?;
    if token.is_empty() || token.bytes().any(|b| b.is_ascii_whitespace()) {
        return Err(unauthorized(
            "expected Authorization: Bearer KEY with one space and no whitespace in the key",
        ));
    }
    Ok(token)
}

impl Auth {
    pub fn new(keys: &Keys) -> Self {
        Auth {
            score: keys.score.iter().map(|k| digest(k)).collect(),
            admin: keys.admin.iter().map(|k| digest(k)).collect(),
        }
    }

    /// True when no key is configured (open server).
    pub fn is_open(&self) -> bool {
        self.score.is_empty() && self.admin.is_empty()
    }

    /// Checks the request's `Authorization: Bearer KEY` against `scope`.
    pub fn check(&self, req: &HttpRequest, scope: Scope) -> Result<(), ApiError> {
        if self.is_open() {
            return Ok(());
        }
        let given = bearer_token(req)?;
        let d = digest(given);
        // Check every key so the time does not depend on which one matched.
        let is_admin = self.admin.iter().fold(false, |acc, k| acc | ct_eq(k, &d));
        let is_score = self.score.iter().fold(false, |acc, k| acc | ct_eq(k, &d));
        match (scope, is_admin, is_score) {
            (_, true, _) | (Scope::Score, false, true) => Ok(()),
            (Scope::Admin, false, true) => Err(ApiError::new(
                ApiErrorKind::Forbidden,
                "forbidden",
                "this key may score but not administer models",
            )),
            _ => Err(ApiError::new(
                ApiErrorKind::Unauthorized,
                "unauthorized",
                "unknown API key",
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    fn auth() -> Auth {
        Auth::new(&Keys {
            score: vec!["score-key-0123456789".into()],
            admin: vec!["admin-key-0123456789".into()],
        })
    }

    fn req(key: Option<&str>) -> HttpRequest {
        let mut r = TestRequest::default();
        if let Some(k) = key {
            r = r.insert_header(("Authorization", format!("Bearer {k}")));
        }
        r.to_http_request()
    }

    #[test]
    fn open_server_allows_everything() {
        assert!(Auth::default().check(&req(None), Scope::Admin).is_ok());
    }

    #[test]
    fn missing_or_unknown_key_is_unauthorized() {
        let a = auth();
        assert_eq!(
            a.check(&req(None), Scope::Score).unwrap_err().kind,
            ApiErrorKind::Unauthorized
        );
        assert_eq!(
            a.check(&req(Some("nope")), Scope::Score).unwrap_err().kind,
            ApiErrorKind::Unauthorized
        );
    }

    #[test]
    fn score_key_cannot_administer() {
        let a = auth();
        assert!(a
            .check(&req(Some("score-key-0123456789")), Scope::Score)
            .is_ok());
        assert_eq!(
            a.check(&req(Some("score-key-0123456789")), Scope::Admin)
                .unwrap_err()
                .kind,
            ApiErrorKind::Forbidden
        );
    }

    #[test]
    fn admin_key_can_do_both() {
        let a = auth();
        assert!(a
            .check(&req(Some("admin-key-0123456789")), Scope::Admin)
            .is_ok());
        assert!(a
            .check(&req(Some("admin-key-0123456789")), Scope::Score)
            .is_ok());
    }

    fn with_headers(values: &[&str]) -> HttpRequest {
        let mut r = TestRequest::default();
        for v in values {
            r = r.append_header(("Authorization", *v));
        }
        r.to_http_request()
    }

    #[test]
    fn the_scheme_is_case_insensitive() {
        let a = auth();
        for v in [
            "BEARER score-key-0123456789",
            "bearer score-key-0123456789",
            "BeArEr score-key-0123456789",
        ] {
            assert!(a.check(&with_headers(&[v]), Scope::Score).is_ok(), "{v}");
        }
    }

    #[test]
    fn the_token_is_compared_exactly() {
        let a = auth();
        for v in [
            "Bearer  score-key-0123456789",
            "Bearer score-key-0123456789\t",
            "Bearer score-key-0123456789 ",
            "Bearer\tscore-key-0123456789",
            "Basic score-key-0123456789",
            "Bearer ",
        ] {
            assert_eq!(
                a.check(&with_headers(&[v]), Scope::Score).unwrap_err().kind,
                ApiErrorKind::Unauthorized,
                "{v:?}"
            );
        }
    }

    #[test]
    fn two_authorization_headers_are_refused() {
        let a = auth();
        let r = with_headers(&["Bearer score-key-0123456789", "Bearer nope"]);
        assert_eq!(
            a.check(&r, Scope::Score).unwrap_err().kind,
            ApiErrorKind::Unauthorized
        );
    }

    #[test]
    fn constant_time_equality_is_equality() {
        assert!(ct_eq(&digest("a"), &digest("a")));
        assert!(!ct_eq(&digest("a"), &digest("b")));
    }
}
