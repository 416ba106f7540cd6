// Package imagesrc opens an image named by a reference, whatever holds it:
// a `docker save` tarball ("docker-archive:PATH"), an OCI image layout
// ("oci-layout:DIR", "oci-layout:DIR:TAG", "oci-layout:DIR@sha256:..."), a
// Docker engine ("docker-daemon:NAME", through the engine's API) or a
// registry (any other reference, "registry.example/app:1.0").
//
// Every command that reads an image (inspect, squash, ldd --root, ...) opens
// it here, so they all accept the same references. An index (a
// multi-platform image) is narrowed to one image by [Options.Platform].
// Opening reads manifests and the config only; layers are read when asked.
package imagesrc
