//! `terraform-provider-meridian`: started by Terraform, which speaks to it over gRPC.

mod admin;
mod app;
mod app_settings;
mod area;
mod attributes;
mod cluster_member;
mod endpoints;
mod provider;

fn main() -> anyhow::Result<()> {
    // tf-provider appends a backtrace to every diagnostic when backtraces are on
    // (RUST_BACKTRACE=1 in the operator's shell); errors shown by Terraform should read as
    // messages. Panics still get theirs. Set before any thread exists.
    #[allow(clippy::disallowed_methods)] // before any thread exists, so nothing races it
    std::env::set_var("RUST_LIB_BACKTRACE", "0");
    tokio::runtime::Runtime::new()?.block_on(tf_provider::serve(
        "meridian",
        provider::MeridianProvider::default(),
    ))
}
