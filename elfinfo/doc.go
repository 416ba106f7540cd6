// Package elfinfo reads what a dynamic loader needs from an ELF file: its
// class, data encoding and machine, its type (static, static-pie, dynamic),
// PT_INTERP, and the dynamic section (DT_NEEDED, DT_RPATH, DT_RUNPATH,
// DT_SONAME, DT_FLAGS_1) with symbol version needs and definitions.
//
// Like the loader, it reads the program headers and PT_DYNAMIC, never the
// section headers, so a file whose section headers are stripped or damaged
// reads the same. Every offset and size is checked against the file; hostile
// input gives an error, never a panic or a huge allocation.
package elfinfo
