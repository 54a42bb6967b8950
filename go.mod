module github.com/dynowatch/dynowatch

go 1.26.8

require github.com/heroku/x v0.5.3

require (
	github.com/google/go-cmp v0.7.0 // indirect
	github.com/kelseyhightower/envconfig v1.4.0 // indirect
	github.com/pkg/errors v0.9.1 // indirect
)
