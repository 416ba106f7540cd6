// Package slim cuts an image down to what its entrypoint needs: the
// program, its #! interpreters, their libraries and loader, the files asked
// for, and the image's users and groups, with the same configuration.
package slim
