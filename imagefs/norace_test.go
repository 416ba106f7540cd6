//go:build !race

package imagefs

const raceEnabled = false
