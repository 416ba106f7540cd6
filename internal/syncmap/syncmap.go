// Package syncmap is a typed sync.Map, for the read-mostly caches that many
// goroutines share (parsed files, directory listings, resolved paths).
package syncmap

import "sync"

// Map is a sync.Map from K to V. The zero Map is empty and ready to use.
type Map[K comparable, V any] struct{ m sync.Map }

// Load returns the value for k, if any.
func (m *Map[K, V]) Load(k K) (V, bool) {
	v, ok := m.m.Load(k)
	if !ok {
		var zero V
		return zero, false
	}
	return v.(V), true
}

// Store sets the value for k.
func (m *Map[K, V]) Store(k K, v V) { m.m.Store(k, v) }

// LoadOrStore returns the value for k if there is one, else stores v and
// returns it; loaded says which.
func (m *Map[K, V]) LoadOrStore(k K, v V) (V, bool) {
	a, loaded := m.m.LoadOrStore(k, v)
	return a.(V), loaded
}
