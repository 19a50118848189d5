// `sqlx::migrate!` embeds catalog/migrations/ at compile time: rebuild when
// a migration is added, not only when an embedded file changes.
fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
