package builder

import (
	"errors"
	"fmt"
	"io/fs"

	"github.com/fromscratch/fromscratch/doctor"
	"github.com/fromscratch/fromscratch/internal/reason"
)

// ErrBadInput is matched (errors.Is) by the errors of unusable input: bad
// options, a PROGRAM that cannot be an entrypoint, a file that is missing,
// a Go build that fails, a platform that does not match.
var ErrBadInput = errors.New("bad input")

// ErrWouldNotStart is matched (errors.Is) by the error of a build whose
// image would not start (doctor's verdict on the planned image and its
// final configuration: entrypoint, user, working directory).
var ErrWouldNotStart = errors.New("the image would not start")

// startError says why the planned image would not start.
type startError struct {
	arg     string
	problem doctor.Problem
}

func (e *startError) Error() string {
	return fmt.Sprintf("build %s: the image would not start: %s (fix: %s)", e.arg, e.problem.Message, e.problem.Fix)
}

// Is reports ErrWouldNotStart.
func (e *startError) Is(target error) bool { return target == ErrWouldNotStart }

// inputError is an error of unusable input; msg is the whole message, err
// the cause if there is one.
type inputError struct {
	msg string
	err error
}

func (e *inputError) Error() string { return e.msg }

// Is reports ErrBadInput.
func (e *inputError) Is(target error) bool { return target == ErrBadInput }

func (e *inputError) Unwrap() error { return e.err }

// badInput is an ErrBadInput error with a formatted message.
func badInput(format string, a ...any) error {
	return &inputError{msg: fmt.Sprintf(format, a...)}
}

// badInputErr is an ErrBadInput error with a formatted message, wrapping
// cause.
func badInputErr(cause error, format string, a ...any) error {
	return &inputError{msg: fmt.Sprintf(format, a...), err: cause}
}

func describeBusybox(err error) string {
	if errors.Is(err, fs.ErrNotExist) {
		return "no such file or directory"
	}
	return err.Error()
}

// describe is the reason part of "FILE: reason".
func describe(err error) string { return reason.Of(err) }
