//! Keyset pagination, shared by every listing: a page is the rows on one
//! side of a `(created_ms, id)` position, fetched with one more row than
//! asked to learn whether more exist.
//!
//! The SQL is assembled by hand with numbered `$n` placeholders and a
//! [`Bind`] list, not with `sqlx::QueryBuilder`: over the `Any` driver the
//! builder's `push_bind` writes `?` (the `Any` database's placeholder),
//! which PostgreSQL rejects.

/// A position in a newest-first listing: `(created_ms, id)`, both
/// descending. `id` is the listed row's id (a photo, comment, user…).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Keyset {
    pub created_ms: i64,
    pub id: String,
}

/// Which side of a keyset a page lies on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Direction {
    /// The first (newest) page.
    First,
    /// Items older than the keyset (`previous_last`).
    After(Keyset),
    /// Items newer than the keyset (`previous_first`).
    Before(Keyset),
}

pub(crate) enum Bind {
    Text(String),
    Int(i64),
    Null,
}

pub(crate) fn bind_all<'q>(
    mut q: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>,
    binds: &'q [Bind],
) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>> {
    for b in binds {
        q = match b {
            Bind::Text(s) => q.bind(s.as_str()),
            Bind::Int(i) => q.bind(*i),
            Bind::Null => q.bind(None::<String>),
        };
    }
    q
}

/// Appends the keyset condition, order and limit (`limit + 1` rows, to learn
/// whether more exist) for a newest-first listing on `(created, id)`.
pub(crate) fn keyset_clause(
    direction: &Direction,
    created: &str,
    id: &str,
    limit: i64,
    binds: &mut Vec<Bind>,
) -> String {
    keyset_clause_ordered(direction, created, id, limit, binds, false)
}

/// [`keyset_clause`] for either order: `oldest_first` turns the listing
/// around (queues), with `After` still meaning "further down the list".
pub(crate) fn keyset_clause_ordered(
    direction: &Direction,
    created: &str,
    id: &str,
    limit: i64,
    binds: &mut Vec<Bind>,
    oldest_first: bool,
) -> String {
    let mut sql = String::new();
    let (down, up, down_order, up_order) = if oldest_first { (">", "<", "ASC", "DESC") } else { ("<", ">", "DESC", "ASC") };
    let (cmp, order) = match direction {
        Direction::First => (None, down_order),
        Direction::After(k) => (Some((down, k)), down_order),
        Direction::Before(k) => (Some((up, k)), up_order),
    };
    if let Some((op, k)) = cmp {
        binds.push(Bind::Int(k.created_ms));
        let a = binds.len();
        binds.push(Bind::Text(k.id.clone()));
        let b = binds.len();
        // A row comparison is one index range on (created, id) in both engines.
        sql += &format!(" AND ({created}, {id}) {op} (${a}, ${b})");
    }
    // The limit is written into the statement, not bound: PostgreSQL
    // plans a bound LIMIT as 10 % of the rows, so a listing's generic plan
    // looked dearer than its custom plans and every execution was planned
    // afresh (a quarter of PostgreSQL's CPU at 1,000 reads/s:
    // docs/benchmarks.md). One statement per page size, cached as any other.
    sql += &format!(" ORDER BY {created} {order}, {id} {order} LIMIT {}", page_rows(limit));
    sql
}

/// The rows a page of `limit` fetches: one more, to learn whether more
/// exist. A statement that wraps a keyset clause (the feeds' merges) limits
/// its outer query to the same count.
pub(crate) fn page_rows(limit: i64) -> i64 {
    limit + 1
}

/// The order a newest-first page is fetched in (`Before` pages are fetched
/// oldest-first and turned around by [`finish_page`]), for a statement that
/// wraps a keyset clause.
pub(crate) fn newest_first_order(direction: &Direction) -> &'static str {
    if matches!(direction, Direction::Before(_)) { "ASC" } else { "DESC" }
}

/// Trims the extra row, restores newest-first order, reports whether more exist.
pub(crate) fn finish_page<T>(mut rows: Vec<T>, direction: &Direction, limit: i64) -> (Vec<T>, bool) {
    let more = rows.len() as i64 > limit;
    rows.truncate(limit as usize);
    if matches!(direction, Direction::Before(_)) {
        rows.reverse();
    }
    (rows, more)
}
