// Package program models how a container's command starts: the runtime's
// search of PATH, the kernel's execve (a regular file with an execute bit,
// an ELF program or a #! script, at most MaxInterpreters #! rewrites), and
// env(1) when it is the interpreter or the command (env NAME, env -S "NAME
// ARGS"), over a [rootfs.FS]. It also says what an ELF program needs of the
// platform: static or dynamic, and the OCI platform of its machine.
//
// closure, doctor, debuglayer, builder, slim and inspect all ask it, so that
// what a build plans is what doctor accepts.
//
// What is modelled, and how:
//
//   - PATH: the command's name without a "/" is looked up in the PATH of
//     its environment, or [DefaultPath] (what Docker sets when the image
//     has none); empty and relative entries are skipped, as the runtime
//     does not search the working directory. A candidate must be a regular
//     file (after symbolic links) with an execute bit; the first one wins.
//   - execve: the file must exist, be a regular file and have an execute
//     bit (EACCES otherwise); it must start with the ELF magic or "#!"
//     (ENOEXEC otherwise). Owners are not checked here (doctor does).
//   - #! (fs/binfmt_script.c): of the first 256 bytes, the line up to "\n"
//     (or the whole buffer, when the interpreter's name ends in it) is
//     trimmed of spaces and tabs; the interpreter runs to the first space,
//     tab or NUL, and the rest of the line, trimmed, is one argument. The
//     interpreter gets argv [interpreter, argument (when there is one),
//     script path, the command's arguments after argv[0]].
//   - env: when the file executed is named env (as coreutils' and
//     busybox's are), its arguments are parsed as coreutils' env parses
//     them (-i, -u NAME, -C DIR, -0, -v, -S STRING with its quotes,
//     escapes and ${VAR}, NAME=VALUE) and the command it runs is looked up
//     as execvp does: in the PATH of env's environment, or /bin:/usr/bin
//     when env -i removed it.
//   - ELF: the first four bytes are the ELF magic ([IsELF]); the file is
//     then read with elfinfo, and must be an executable or a shared object
//     whose PT_INTERP the kernel accepts.
package program
