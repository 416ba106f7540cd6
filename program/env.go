package program

import (
	"fmt"
	"strings"
)

// EnvCall is what env does with its arguments.
type EnvCall struct {
	// Argv is the command env runs, argv[0] first; empty when it runs
	// none (it prints the environment).
	Argv []string
	// Env is the command's environment.
	Env []string
	// Dir is the directory env changes to (-C), "" for none.
	Dir string
}

// path is the PATH env's execvp searches: the environment's, or glibc's
// default when there is none (after env -i).
func (c *EnvCall) path() string {
	if v, ok := lookupEnv(c.Env, "PATH"); ok {
		return v
	}
	return execvpDefaultPath
}

// execvpDefaultPath is glibc's execvp search path when PATH is unset.
const execvpDefaultPath = "/bin:/usr/bin"

// ParseEnv parses env's arguments (after argv[0]) as coreutils' env does,
// with the environment env it inherits: options -i (and "-"), -0, -v,
// -u NAME, -C DIR, -a ARG, -S STRING (split into words, which may hold
// options too, see [SplitString]), the long forms, "--", then NAME=VALUE
// assignments, then the command. Busybox's env takes a subset of these.
// An unknown option is an error wrapping ErrEnvUsage.
func ParseEnv(args, env []string) (*EnvCall, error) {
	c := &EnvCall{Env: append([]string{}, env...)}
	for len(args) > 0 {
		a := args[0]
		if a == "--" {
			args = args[1:]
			break
		}
		if a == "-" {
			c.Env = nil
			args = args[1:]
			continue
		}
		if !strings.HasPrefix(a, "-") {
			break
		}
		args = args[1:]
		var err error
		if strings.HasPrefix(a, "--") {
			args, err = c.long(a, args)
		} else {
			args, err = c.short(a[1:], args)
		}
		if err != nil {
			return nil, err
		}
	}
	for len(args) > 0 && strings.Contains(args[0], "=") {
		k, _, _ := strings.Cut(args[0], "=")
		c.Env = append(unsetEnv(c.Env, k), args[0])
		args = args[1:]
	}
	c.Argv = args
	return c, nil
}

// short handles one argument of bundled short options ("iv", "S python3",
// "uNAME"); the rest of the arguments are returned, with the words of -S
// put first.
func (c *EnvCall) short(opts string, args []string) ([]string, error) {
	for i := 0; i < len(opts); i++ {
		switch o := opts[i]; o {
		case 'i':
			c.Env = nil
		case '0', 'v':
		case 'u', 'C', 'S', 'a':
			val := opts[i+1:]
			if val == "" {
				if len(args) == 0 {
					return nil, fmt.Errorf("%w: option -%c requires an argument", ErrEnvUsage, o)
				}
				val, args = args[0], args[1:]
			}
			return c.withValue(string(o), val, args)
		default:
			return nil, fmt.Errorf("%w: invalid option -- '%c'", ErrEnvUsage, o)
		}
	}
	return args, nil
}

// long handles one long option.
func (c *EnvCall) long(a string, args []string) ([]string, error) {
	name, val, hasVal := strings.Cut(a[2:], "=")
	short := map[string]string{"unset": "u", "chdir": "C", "split-string": "S", "argv0": "a"}[name]
	switch {
	case name == "ignore-environment":
		c.Env = nil
		return args, nil
	case name == "null" || name == "debug" || name == "list-signal-handling":
		return args, nil
	case name == "default-signal" || name == "ignore-signal" || name == "block-signal":
		return args, nil // an optional value, only after "="
	case short != "":
		if !hasVal {
			if len(args) == 0 {
				return nil, fmt.Errorf("%w: option '--%s' requires an argument", ErrEnvUsage, name)
			}
			val, args = args[0], args[1:]
		}
		return c.withValue(short, val, args)
	}
	return nil, fmt.Errorf("%w: unrecognized option '%s'", ErrEnvUsage, a)
}

func (c *EnvCall) withValue(opt, val string, args []string) ([]string, error) {
	switch opt {
	case "u":
		c.Env = unsetEnv(c.Env, val)
	case "C":
		c.Dir = val
	case "S":
		words, err := SplitString(val, c.Env)
		if err != nil {
			return nil, err
		}
		return append(words, args...), nil
	}
	return args, nil
}

// SplitString splits the value of env -S as coreutils does: words
// separated by spaces, tabs and newlines; 'single' and "double" quotes;
// backslash escapes \\ \" \' \$ \# \_ (a space) \t \n \r \f \v, and \c,
// which ends the string; ${NAME} replaced by NAME's value in env (outside
// single quotes); a # that starts a word starts a comment to the end.
func SplitString(s string, env []string) ([]string, error) {
	var words []string
	var w strings.Builder
	inWord := false
	quote := byte(0)
	for i := 0; i < len(s); i++ {
		ch := s[i]
		switch {
		case quote == '\'' && ch != '\'' && !(ch == '\\' && i+1 < len(s) && (s[i+1] == '\\' || s[i+1] == '\'')):
			w.WriteByte(ch)
			continue
		case quote == 0 && (ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r' || ch == '\f' || ch == '\v'):
			if inWord {
				words, inWord = append(words, w.String()), false
				w.Reset()
			}
			continue
		case quote == 0 && ch == '#' && !inWord:
			return words, nil
		}
		inWord = true
		switch ch {
		case '\'', '"':
			switch quote {
			case 0:
				quote = ch
			case ch:
				quote = 0
			default:
				w.WriteByte(ch)
			}
		case '\\':
			if i+1 >= len(s) {
				return nil, fmt.Errorf("%w: -S: invalid backslash at end of string", ErrEnvUsage)
			}
			i++
			e, ok := map[byte]string{'\\': `\`, '"': `"`, '\'': `'`, '$': "$", '#': "#", '_': " ",
				't': "\t", 'n': "\n", 'r': "\r", 'f': "\f", 'v': "\v"}[s[i]]
			switch {
			case s[i] == 'c' && quote == 0:
				if inWord = w.Len() > 0; inWord {
					words = append(words, w.String())
				}
				return words, nil
			case s[i] == '_' && quote == 0:
				// \_ outside quotes separates words.
				if w.Len() > 0 {
					words = append(words, w.String())
					w.Reset()
				}
				inWord = false
			case !ok:
				return nil, fmt.Errorf("%w: -S: invalid sequence '\\%c'", ErrEnvUsage, s[i])
			default:
				w.WriteString(e)
			}
		case '$':
			rest := s[i+1:]
			if !strings.HasPrefix(rest, "{") {
				return nil, fmt.Errorf("%w: -S: only ${VARNAME} expansion is supported", ErrEnvUsage)
			}
			name, _, ok := strings.Cut(rest[1:], "}")
			if !ok || name == "" {
				return nil, fmt.Errorf("%w: -S: unterminated ${ in %q", ErrEnvUsage, s)
			}
			v, _ := lookupEnv(env, name)
			w.WriteString(v)
			i += len(name) + 2
		default:
			w.WriteByte(ch)
		}
	}
	if quote != 0 {
		return nil, fmt.Errorf("%w: -S: no terminating quote in %q", ErrEnvUsage, s)
	}
	if inWord {
		words = append(words, w.String())
	}
	return words, nil
}

func lookupEnv(env []string, key string) (string, bool) {
	for _, e := range env {
		if k, v, ok := strings.Cut(e, "="); ok && k == key {
			return v, true // the first, as getenv
		}
	}
	return "", false
}

func unsetEnv(env []string, key string) []string {
	out := env[:0:0]
	for _, e := range env {
		if k, _, _ := strings.Cut(e, "="); k != key {
			out = append(out, e)
		}
	}
	return out
}
