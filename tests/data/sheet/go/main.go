// Package main runs the demo.
package main

import (
	"fmt"

	"example.com/demo/internal/util"
)

const Answer = 42

type Server struct {
	Port int
}

type Handler interface {
	Serve() error
}

// Serve serves.
func (s *Server) Serve() error {
	return nil
}

func main() {
	fmt.Println(util.Double(Answer))
}
