//! API errors as gRPC statuses. The message carries Feast's error detail
//! after `Flight error: `, which Feast's client (`feast/arrow_error_handler.py`)
//! finds in the exception text and raises as the typed `feast.errors` class;
//! other clients read the plain message before it.

use axum::http::StatusCode;
use quiver_core::ObjectKind;
use serde_json::json;
use tonic::{Code, Status};

use crate::error::ApiError;
use crate::feast_errors::feast_class;

pub fn status(error: ApiError) -> Status {
    let code = match error.status {
        StatusCode::NOT_FOUND | StatusCode::UNPROCESSABLE_ENTITY => Code::NotFound,
        StatusCode::UNAUTHORIZED => Code::Unauthenticated,
        StatusCode::FORBIDDEN => Code::PermissionDenied,
        StatusCode::CONFLICT => Code::AlreadyExists,
        StatusCode::PAYLOAD_TOO_LARGE => Code::ResourceExhausted,
        StatusCode::SERVICE_UNAVAILABLE => Code::Unavailable,
        status if status.is_client_error() => Code::InvalidArgument,
        _ => Code::Internal,
    };
    // Over Flight a missing source is a data source, not a push source.
    let class = match error.missing {
        Some(ObjectKind::Source) => "DataSourceObjectNotFoundException",
        missing => feast_class(error.status, missing),
    };
    let detail = json!({
        "module": "feast.errors",
        "class": class,
        "message": error.message,
        "error": {"code": error.code, "message": error.message},
    });
    Status::new(code, format!("{} (Flight error: {detail})", error.message))
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    use super::*;

    /// What Feast's client does with the exception text: the JSON after `Flight error: `.
    fn feast_detail(message: &str) -> Value {
        let at = message.find("Flight error: ").expect("the marker") + "Flight error: ".len();
        let text = &message[at..];
        let end = text.rfind('}').expect("a JSON object");
        serde_json::from_str(&text[..=end]).expect("JSON")
    }

    #[test]
    fn unknown_view_is_not_found_with_feasts_class() {
        let error = ApiError {
            status: StatusCode::NOT_FOUND,
            code: "not_found",
            message: "unknown feature view `v`".into(),
            missing: Some(ObjectKind::FeatureView),
        };
        let status = status(error);
        assert_eq!(status.code(), Code::NotFound);
        assert!(status.message().starts_with("unknown feature view `v` ("));
        let detail = feast_detail(status.message());
        assert_eq!(detail["class"], "FeatureViewNotFoundException");
        assert_eq!(detail["module"], "feast.errors");
        assert_eq!(detail["error"]["code"], "not_found");
    }

    #[test]
    fn statuses_follow_the_http_status() {
        let of = |http, missing| {
            status(ApiError {
                status: http,
                code: "x",
                message: "m".into(),
                missing,
            })
        };
        assert_eq!(
            of(StatusCode::BAD_REQUEST, None).code(),
            Code::InvalidArgument
        );
        assert_eq!(
            of(StatusCode::FORBIDDEN, None).code(),
            Code::PermissionDenied
        );
        assert_eq!(
            of(StatusCode::UNAUTHORIZED, None).code(),
            Code::Unauthenticated
        );
        assert_eq!(
            of(StatusCode::SERVICE_UNAVAILABLE, None).code(),
            Code::Unavailable
        );
        assert_eq!(
            of(StatusCode::INTERNAL_SERVER_ERROR, None).code(),
            Code::Internal
        );
        let source = of(StatusCode::UNPROCESSABLE_ENTITY, Some(ObjectKind::Source));
        assert_eq!(source.code(), Code::NotFound);
        assert_eq!(
            feast_detail(source.message())["class"],
            "DataSourceObjectNotFoundException"
        );
    }
}
