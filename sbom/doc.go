// Package sbom lists what an image holds, file by file, with the package
// each file comes from: it reads the image's layers once (sha256, sha1 and
// md5 of every regular file), attributes the files to the packages of the
// root they were taken from ([pkgdb]), writes the package records the image
// carries so that scanners find its packages (distroless's
// /var/lib/dpkg/status.d/NAME and NAME.md5sums, or apk's installed
// database, with only the packages and files the image holds), and writes
// the SBOM as SPDX 2.3 JSON or CycloneDX 1.5 JSON.
package sbom
