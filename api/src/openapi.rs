//! The machine-readable API description served at `GET /openapi.json`.
//!
//! Generated from the code: every route is mounted through
//! `utoipa_axum::routes!`, which takes the path, method, parameters and
//! bodies from the `#[utoipa::path]` on its handler, so a route cannot exist
//! without being described. What is common to every operation is added
//! here once: the error body (as the `default` response, since any
//! operation may answer 400, 401, 413, 429 or 503 before its own logic
//! runs), the bearer scheme, and the optional `x-request-id` echo.

use utoipa::openapi::path::Operation;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme};
use utoipa::openapi::{ContentBuilder, RefOr, Response, ResponseBuilder};
use utoipa::{OpenApi, ToSchema};

/// `{"error": {"code", "message"}}`: what every 4xx and 5xx answers.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct ErrorBody {
    error: ErrorDetail,
}

/// A stable snake_case code and a human sentence.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct ErrorDetail {
    #[schema(example = "not_found")]
    code: String,
    #[schema(example = "no such resource")]
    message: String,
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "photostream",
        description = "Flickr-style photo sharing: uploads, ACL-enforced reads, social features, moderation. \
                       Errors answer `{\"error\": {\"code\", \"message\"}}`; lists are keyset-paginated \
                       (`previous_last` / `previous_first` cursors, `limit` 1..100). \
                       Invisible and missing resources are both 404.",
        license(name = "Apache-2.0"),
    ),
    components(schemas(ErrorBody, ErrorDetail)),
    tags(
        (name = "accounts", description = "Registration, sessions and personal API tokens"),
        (name = "photos", description = "Uploads, photo records, privacy and files"),
        (name = "reading", description = "Photostreams, feeds, explore and search"),
        (name = "social", description = "Albums, comments, favorites, follows, notifications, groups"),
        (name = "moderation", description = "Reports, the review queue and the audit log"),
        (name = "stats", description = "Owner statistics"),
        (name = "operations", description = "Health, readiness, metrics and this description"),
    )
)]
pub struct ApiDoc;

/// Adds what every operation shares; run on the document the router
/// collected (after every route is in it).
pub fn complete(api: &mut utoipa::openapi::OpenApi) {
    {
        let components = api.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "A session JWT from POST /v1/sessions or a personal API token (pst_…) from POST /v1/tokens",
                    ))
                    .build(),
            ),
        );
        // Anonymous callers are welcome on reads (they see public content).
        let security = vec![SecurityRequirement::default(), SecurityRequirement::new("bearer", Vec::<String>::new())];
        for item in api.paths.paths.values_mut() {
            for op in operations(item) {
                op.responses.responses.entry("default".to_string()).or_insert_with(error_response);
                op.security.get_or_insert_with(|| security.clone());
            }
        }
    }
}

fn operations(item: &mut utoipa::openapi::PathItem) -> impl Iterator<Item = &mut Operation> {
    [
        item.get.as_mut(),
        item.put.as_mut(),
        item.post.as_mut(),
        item.delete.as_mut(),
        item.options.as_mut(),
        item.head.as_mut(),
        item.patch.as_mut(),
        item.trace.as_mut(),
    ]
    .into_iter()
    .flatten()
}

fn error_response() -> RefOr<Response> {
    RefOr::T(
        ResponseBuilder::new()
            .description("An error: 4xx for what the caller can fix, 503 (with Retry-After) when a backend is down")
            .content(
                "application/json",
                ContentBuilder::new()
                    .schema(Some(utoipa::openapi::Ref::from_schema_name("ErrorBody")))
                    .build(),
            )
            .build(),
    )
}
