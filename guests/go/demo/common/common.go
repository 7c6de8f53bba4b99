// Package common is a dependency the plugin shares with other code, like
// the seed article's github.com/bigwhite/common: its init runs once per
// plugin instance, because every component carries its own copy.
package common

var inits uint32

func init() {
	inits++
}

// InitCount reports how many times this copy's init ran (always 1).
func InitCount() uint32 {
	return inits
}
