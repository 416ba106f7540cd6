//go:build race

package imagefs

// raceEnabled: the race detector changes what memory tests measure.
const raceEnabled = true
