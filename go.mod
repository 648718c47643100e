module github.com/devrun/devrun

go 1.26.8

require (
	github.com/fsnotify/fsnotify v1.10.1
	github.com/moby/patternmatcher v0.6.1
)

require golang.org/x/sys v0.50.0 // indirect
