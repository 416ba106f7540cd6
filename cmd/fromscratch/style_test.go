package main

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"strings"
	"testing"
)

// TestCLIFunctionsShort: the CLI package holds flags, wording and exit
// codes; the logic is the libraries'. No function (or function literal)
// of it, tests aside, is over 60 lines.
func TestCLIFunctionsShort(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	checked := 0
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(f, func(n ast.Node) bool {
			var what string
			switch fn := n.(type) {
			case *ast.FuncDecl:
				what = fn.Name.Name
			case *ast.FuncLit:
				what = "a function literal"
			default:
				return true
			}
			checked++
			start, end := fset.Position(n.Pos()), fset.Position(n.End())
			if lines := end.Line - start.Line + 1; lines > 60 {
				t.Errorf("%s:%d: %s is %d lines (at most 60)", name, start.Line, what, lines)
			}
			return true
		})
	}
	if checked < 100 {
		t.Errorf("only %d functions checked", checked)
	}
}
