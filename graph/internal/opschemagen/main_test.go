package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const sampleDoc = `## Operator Schemas
### ai.onnx (default)
|<a href="#Conv">Conv</a>|<a href="Changelog.md#Conv-11">11</a>|
## ai.onnx (default)
### <a name="Conv"></a><a name="conv">**Conv**</a>

#### Version

This version of the operator has been available since version 11 of the default ONNX operator set.

Other versions of this operator: <a href="Changelog.md#Conv-1">1</a>

#### Attributes

<dl>
<dt><tt>auto_pad</tt> : string (default is NOTSET)</dt>
<dd>auto_pad must be either NOTSET, SAME_UPPER, SAME_LOWER or VALID.</dd>
<dt><tt>group</tt> : int (default is 1)</dt>
<dt><tt>strides</tt> : list of ints</dt>
</dl>

#### Inputs (2 - 3)

<dl>
<dt><tt>X</tt> : T</dt>
<dt><tt>W</tt> : T</dt>
<dt><tt>B</tt> (optional) : T</dt>
</dl>

#### Outputs

<dl>
<dt><tt>Y</tt> : T</dt>
</dl>

### <a name="Clip"></a><a name="clip">**Clip**</a>

This version of the operator has been available since version 13 of the default ONNX operator set.

Other versions of this operator: <a href="Changelog.md#Clip-1">1</a>, <a href="Changelog.md#Clip-6">6</a>, <a href="Changelog.md#Clip-11">11</a>

#### Inputs (1 - 3)

#### Outputs

<dl>
<dt><tt>output</tt> : T</dt>
</dl>

### <a name="Concat"></a><a name="concat">**Concat**</a>

This version of the operator has been available since version 4 of the default ONNX operator set.

#### Inputs (1 - &#8734;)

#### Outputs

<dl>
<dt><tt>concat_result</tt> : T</dt>
</dl>

### <a name="Upsample"></a><a name="upsample">**Upsample** (deprecated)</a>

This version of the operator has been deprecated since version 10 of the default ONNX operator set.

Other versions of this operator: <a href="Changelog.md#Upsample-7">7</a>

## ai.onnx.preview.training
### <a name="ai.onnx.preview.training.Adam"></a><a name="ai.onnx.preview.training.adam">**ai.onnx.preview.training.Adam**</a>

This version of the operator has been available since version 1 of the 'ai.onnx.preview.training' operator set.

#### Inputs (3 - &#8734;)

#### Outputs (1 - &#8734;)
`

func TestGenerate(t *testing.T) {
	dir := t.TempDir()
	doc := filepath.Join(dir, "Operators.md")
	hist := filepath.Join(dir, "history.txt")
	out := filepath.Join(dir, "table.go")
	if err := os.WriteFile(doc, []byte(sampleDoc), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(hist, []byte("# comment\nClip 6 1 1\nUpsample 7 1 1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := run([]string{doc}, hist, out); err != nil {
		t.Fatal(err)
	}
	src, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		`{"", "Conv"}:     {{1, 2, 3, 1, 1, false}}`,
		`{"", "Clip"}:     {{1, 1, 1, 1, 1, false}, {11, 1, 3, 1, 1, false}}`,
		`{"", "Concat"}:   {{4, 1, -1, 1, 1, false}}`,
		`{"", "Upsample"}: {{7, 1, 1, 1, 1, false}, {10, 0, 0, 0, 0, true}}`,
	} {
		if !strings.Contains(string(src), want) {
			t.Errorf("table lacks %s:\n%s", want, src)
		}
	}
	if want := `{"", "Conv"}: {11, map[string]AttrType{"auto_pad": AttrString, "group": AttrInt, "strides": AttrInts}}`; !strings.Contains(string(src), want) {
		t.Errorf("attribute table lacks %s:\n%s", want, src)
	}
	if strings.Contains(string(src), "Adam") {
		t.Error("preview-domain operator in the table")
	}
	// A history entry for a version the document does not list is an error.
	if err := os.WriteFile(hist, []byte("Clip 5 1 1\nUpsample 7 1 1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := run([]string{doc}, hist, out); err == nil {
		t.Error("unknown history version accepted")
	}
}
