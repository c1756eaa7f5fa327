//! Spring-style pages: `?page=0&size=20&sort=createdAt,desc` in, `{content, page{...}}` out.

use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::domain::validate::{Errors, FieldError};
use crate::store::{Page, PageRequest};

pub const DEFAULT_SIZE: u32 = 20;
pub const MAX_SIZE: u32 = 100;
/// Deep pages cost a full scan; nobody pages this far in a UI.
const MAX_PAGE: u32 = 100_000;

/// Paging parameters shared by every list.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageParams {
    /// 0-based page number. (Read as text, so a bad value gets a 400 naming `page`.)
    #[param(value_type = Option<u32>, minimum = 0, maximum = 100000, example = 0)]
    pub page: Option<String>,
    /// Page size, 1 to 100 (default 20).
    #[param(value_type = Option<u32>, minimum = 1, maximum = 100, example = 20)]
    pub size: Option<String>,
    /// `field,asc` or `field,desc`.
    #[param(example = "createdAt,desc")]
    pub sort: Option<String>,
}

fn number(field: &str, value: Option<&str>, default: u32, min: u32, max: u32) -> Result<u32, FieldError> {
    let Some(value) = value else { return Ok(default) };
    value
        .trim()
        .parse::<u32>()
        .ok()
        .filter(|n| (min..=max).contains(n))
        .ok_or_else(|| FieldError::new(field, format!("must be a whole number from {min} to {max}")))
}

impl PageParams {
    /// Validates paging; `sort_fields` is the allow-list and `parse_sort` maps a name to a key.
    pub fn to_request<S: Copy>(
        &self,
        errors: &mut Errors,
        sort_fields: &[&str],
        default_sort: (S, bool),
        parse_sort: impl Fn(&str) -> Option<S>,
    ) -> PageRequest<S> {
        let page = errors.check(number("page", self.page.as_deref(), 0, 0, MAX_PAGE)).unwrap_or(0);
        let size =
            errors.check(number("size", self.size.as_deref(), DEFAULT_SIZE, 1, MAX_SIZE)).unwrap_or(DEFAULT_SIZE);
        let (mut sort, mut descending) = default_sort;
        if let Some(text) = self.sort.as_deref().filter(|s| !s.trim().is_empty()) {
            let (field, direction) = text.split_once(',').unwrap_or((text, "asc"));
            match (parse_sort(field.trim()), direction.trim().to_ascii_lowercase().as_str()) {
                (Some(key), "asc") => (sort, descending) = (key, false),
                (Some(key), "desc") => (sort, descending) = (key, true),
                (Some(_), _) => errors.push(FieldError::new("sort", "direction must be asc or desc")),
                (None, _) => errors.push(FieldError::new("sort", format!("can sort by {}", sort_fields.join(", ")))),
            }
        }
        PageRequest { page, size, sort, descending }
    }
}

/// Page metadata.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PageMeta {
    pub size: u32,
    pub number: u32,
    pub total_elements: i64,
    pub total_pages: i64,
}

/// One page of a list.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct PageDto<T> {
    pub content: Vec<T>,
    pub page: PageMeta,
}

impl<T> PageDto<T> {
    pub fn from_page<R, S>(page: Page<R>, request: &PageRequest<S>, map: impl FnMut(R) -> T) -> Self {
        let size = i64::from(request.size);
        PageDto {
            content: page.items.into_iter().map(map).collect(),
            page: PageMeta {
                size: request.size,
                number: request.page,
                total_elements: page.total,
                total_pages: (page.total + size - 1) / size,
            },
        }
    }
}
