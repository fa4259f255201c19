fn main() -> Result<(), Box<dyn std::error::Error>> {
    // Meridian: compile the protocol with the protoc shipped in protoc-bin-vendored, so
    // building the provider needs no system protoc (an explicit PROTOC still wins).
    if std::env::var_os("PROTOC").is_none() {
        std::env::set_var("PROTOC", protoc_bin_vendored::protoc_bin_path()?);
    }
    tonic_build::configure()
        .protoc_arg("--experimental_allow_proto3_optional")
        .build_client(false)
        .compile_protos(
            &["proto/plugin.proto", "proto/tfplugin6.5.proto"],
            &["proto"],
        )?;
    Ok(())
}
