package pkgdb

import (
	"testing"
)

// FuzzParse: no input panics the parsers or makes them exceed their bounds.
func FuzzParse(f *testing.F) {
	f.Add([]byte("Package: libc6\nStatus: install ok installed\nVersion: 2.36-9\nSource: glibc\nDescription: x\n more\n .\n\nPackage: b\n"))
	f.Add([]byte("Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\n\nFiles: *\nLicense: GPL-2+ or MIT with X exception\n"))
	f.Add([]byte("P:musl\nV:1\nF:lib\nR:libc.so\n\nP:b\n"))
	f.Add([]byte("0cc175b9c0f1b6a831c399e269772661  lib/libz.so.1\n/usr/bin/x\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		if paras, err := ParseControl("f", data); err == nil {
			for i := range paras {
				packageOf("f", &paras[i])
			}
		}
		CopyrightLicenses(data)
		ParseApk("f", data)
		ParseMD5Sums("f", data)
		ParseList("f", data)
		for _, n := range licenseNames(string(data)) {
			SPDX(n)
		}
	})
}
