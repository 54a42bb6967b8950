package store

import "testing"

func TestWithSSLMode(t *testing.T) {
	for _, c := range []struct{ name, in, want string }{
		{"heroku", "postgres://u:p@ec2-1-2-3-4.compute-1.amazonaws.com:5432/d8x", "postgres://u:p@ec2-1-2-3-4.compute-1.amazonaws.com:5432/d8x?sslmode=require"},
		{"postgresql scheme", "postgresql://u:p@db.example.com/d", "postgresql://u:p@db.example.com/d?sslmode=require"},
		{"own sslmode kept", "postgres://u:p@db.example.com/d?sslmode=verify-full", "postgres://u:p@db.example.com/d?sslmode=verify-full"},
		{"own disable kept", "postgres://u:p@db.example.com/d?sslmode=disable", "postgres://u:p@db.example.com/d?sslmode=disable"},
		{"other params kept", "postgres://u@db.example.com/d?application_name=dw", "postgres://u@db.example.com/d?application_name=dw&sslmode=require"},
		{"localhost", "postgres://postgres@localhost:5432/test", "postgres://postgres@localhost:5432/test"},
		{"loopback", "postgres://postgres@127.0.0.1:5432/test", "postgres://postgres@127.0.0.1:5432/test"},
		{"loopback v6", "postgres://postgres@[::1]:5432/test", "postgres://postgres@[::1]:5432/test"},
		{"socket", "postgres:///test", "postgres:///test"},
		{"key=value", "host=db.example.com dbname=d", "host=db.example.com dbname=d"},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := withSSLMode(c.in); got != c.want {
				t.Fatalf("withSSLMode(%q)=%q, want %q", c.in, got, c.want)
			}
		})
	}
}
