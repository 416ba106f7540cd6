package program

import (
	"bytes"
	"fmt"
)

// ParseShebang splits a #! line as the kernel does (fs/binfmt_script.c),
// from head, the file's first bytes (only the first 256 count): the line
// ends at the first "\n", or, when there is none, at the end of the 256
// bytes, provided the interpreter's name ends before it (else the name
// might be cut: ENOEXEC). Spaces and tabs around the line are dropped; the
// interpreter runs to the first space, tab or NUL; after a space or tab,
// the rest of the line up to a NUL is the one argument, spaces included.
// A carriage return is part of the line (a CRLF script names "sh\r").
// Not a #! line, or one with no interpreter, is an error wrapping ErrFormat.
func ParseShebang(head []byte) (*Shebang, error) {
	if !bytes.HasPrefix(head, []byte("#!")) {
		return nil, fmt.Errorf("%w: not an ELF program nor a #! script", ErrFormat)
	}
	// The kernel's buffer: the file's first bytes, NUL-padded, its last
	// byte kept for a terminator.
	var buf [headLen]byte
	copy(buf[:], head)
	end := headLen - 1
	line := buf[2:end]
	if i := bytes.IndexByte(buf[:], '\n'); i >= 0 {
		line = buf[2:i]
	} else {
		start := bytes.TrimLeft(line, " \t")
		if len(start) == 0 {
			return nil, fmt.Errorf("%w: empty #! line", ErrFormat)
		}
		if !bytes.ContainsAny(start, " \t\x00") {
			return nil, fmt.Errorf("%w: #! line longer than %d bytes", ErrFormat, headLen)
		}
	}
	line = bytes.Trim(line, " \t")
	if len(line) == 0 || line[0] == 0 {
		return nil, fmt.Errorf("%w: empty #! line", ErrFormat)
	}
	sb := &Shebang{Interpreter: string(line)}
	if i := bytes.IndexAny(line, " \t\x00"); i >= 0 {
		sb.Interpreter = string(line[:i])
		if line[i] != 0 {
			arg := bytes.TrimLeft(line[i:], " \t")
			if j := bytes.IndexByte(arg, 0); j >= 0 {
				arg = arg[:j]
			}
			sb.Arg = string(arg)
		}
	}
	return sb, nil
}
