// strict.go decodes JSON files more strictly than encoding/json: calib's
// saved statistics, and the command line's --config overrides.

package calib

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"
)

// StrictUnmarshal decodes exactly one JSON value into the struct v points
// to: no unknown fields, keys spelt exactly (encoding/json alone matches
// them ignoring case), none twice, every field without omitempty present
// and no object given as null. Load reads saved statistics with it.
func StrictUnmarshal(b []byte, v any) error {
	// a byte-order mark, which some editors write, is no JSON
	b = bytes.TrimPrefix(b, []byte("\xef\xbb\xbf"))
	d := json.NewDecoder(bytes.NewReader(b))
	d.DisallowUnknownFields()
	if err := d.Decode(v); err != nil {
		switch {
		case errors.Is(err, io.EOF):
			return errors.New("no JSON value (the file is empty)")
		case errors.Is(err, io.ErrUnexpectedEOF):
			return errors.New("the JSON value ends early (a truncated file?)")
		}
		// Say what the file holds in JSON's words, not Go's types.
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			where := "the file"
			if te.Field != "" {
				where = strconv.Quote(te.Field)
			}
			want := jsonKind(te.Type)
			if num, ok := strings.CutPrefix(te.Value, "number "); ok && (want == "a number" || want == "an integer") {
				if want == "an integer" && strings.ContainsAny(num, ".eE") {
					if f, err := strconv.ParseFloat(num, 64); err == nil && f != math.Trunc(f) {
						return fmt.Errorf("%s holds %s, want an integer", where, num)
					}
				}
				if want == "a number" {
					return fmt.Errorf("%s holds %s, beyond what a 64-bit float holds", where, num)
				}
				return fmt.Errorf("%s holds %s, out of the range %s can take", where, num, jsonRangeName(te.Type))
			}
			return fmt.Errorf("%s holds a JSON %s, want %s", where, te.Value, want)
		}
		var se *json.SyntaxError
		if errors.As(err, &se) {
			return fmt.Errorf("not valid JSON at byte %d: %s", se.Offset, se.Error())
		}
		return err
	}
	if d.More() {
		return fmt.Errorf("trailing data after the JSON value")
	}
	// Numbers stay text here: the decode above judged them already.
	kd := json.NewDecoder(bytes.NewReader(b))
	kd.UseNumber()
	return checkKeys(kd, reflect.TypeOf(v).Elem(), "")
}

// jsonRangeName names the range of Go type t in JSON's words.
func jsonRangeName(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Int, reflect.Int64:
		return "a 64-bit integer"
	case reflect.Int32:
		return "a 32-bit integer"
	}
	return "an integer here"
}

var rawMessageType = reflect.TypeFor[json.RawMessage]()

// checkKeys reads one JSON value from d and checks the keys of its objects
// against the struct fields of t (see StrictUnmarshal); path names the
// value in errors.
func checkKeys(d *json.Decoder, t reflect.Type, path string) error {
	optional := t.Kind() == reflect.Pointer
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	tok, err := d.Token()
	if err != nil {
		return err
	}
	where := func() string {
		if path == "" {
			return "the JSON object"
		}
		return strconv.Quote(path)
	}
	// null would leave a number, string or flag at its zero value
	if k := t.Kind(); tok == nil && !optional && (k >= reflect.Bool && k <= reflect.Float64 || k == reflect.String) {
		return fmt.Errorf("%s is null, want %s", where(), jsonKind(t))
	}
	switch {
	case t == rawMessageType:
		return skipValue(d, tok)
	case t.Kind() == reflect.Struct:
		if tok != json.Delim('{') {
			return fmt.Errorf("%s is %v, want an object", strings.Replace(where(), "the JSON object", "the JSON value", 1), tokenKind(tok))
		}
		fields := map[string]reflect.StructField{}
		required := map[string]bool{}
		for i := range t.NumField() {
			f := t.Field(i)
			name, opts, _ := strings.Cut(f.Tag.Get("json"), ",")
			if name == "-" || !f.IsExported() {
				continue
			}
			if name == "" {
				name = f.Name
			}
			fields[name] = f
			required[name] = !strings.Contains(opts, "omitempty")
		}
		seen, err := eachKey(d, "field", where, func(key string) error {
			f, ok := fields[key]
			if !ok {
				return fmt.Errorf("unknown field %q in %s", key, where())
			}
			return checkKeys(d, f.Type, strings.TrimPrefix(path+"."+key, "."))
		})
		if err != nil {
			return err
		}
		for _, name := range slices.Sorted(maps.Keys(required)) {
			if required[name] && !seen[name] {
				return fmt.Errorf("%s has no field %q", where(), name)
			}
		}
		return nil
	case t.Kind() == reflect.Map && tok == json.Delim('{'):
		_, err := eachKey(d, "key", where, func(key string) error {
			return checkKeys(d, t.Elem(), strings.TrimPrefix(path+"."+key, "."))
		})
		return err
	case t.Kind() == reflect.Slice && tok == json.Delim('['):
		for i := 0; d.More(); i++ {
			if err := checkKeys(d, t.Elem(), fmt.Sprintf("%s[%d]", path, i)); err != nil {
				return err
			}
		}
		_, err := d.Token() // ']'
		return err
	}
	return skipValue(d, tok)
}

// eachKey reads the keys of the object d is inside, up to its closing
// brace, calling value on each (which reads the key's value); a key given
// twice is an error. It returns the keys seen.
func eachKey(d *json.Decoder, what string, where func() string, value func(key string) error) (map[string]bool, error) {
	seen := map[string]bool{}
	for d.More() {
		kt, err := d.Token()
		if err != nil {
			return nil, err
		}
		key, _ := kt.(string)
		if seen[key] {
			return nil, fmt.Errorf("%s %q appears twice in %s", what, key, where())
		}
		seen[key] = true
		if err := value(key); err != nil {
			return nil, err
		}
	}
	_, err := d.Token() // '}'
	return seen, err
}

// skipValue reads the rest of the value tok starts.
func skipValue(d *json.Decoder, tok json.Token) error {
	if tok != json.Delim('{') && tok != json.Delim('[') {
		return nil
	}
	for depth := 1; depth > 0; {
		t, err := d.Token()
		if err != nil {
			return err
		}
		switch t {
		case json.Delim('{'), json.Delim('['):
			depth++
		case json.Delim('}'), json.Delim(']'):
			depth--
		}
	}
	return nil
}

// tokenKind names the JSON value a token starts.
func tokenKind(tok json.Token) string {
	switch tok.(type) {
	case nil:
		return "null"
	case bool:
		return "true or false"
	case float64, json.Number:
		return "a number"
	case string:
		return "a string"
	}
	return "an array"
}

// jsonKind names the JSON value a Go type decodes from.
func jsonKind(t reflect.Type) string {
	switch t.Kind() {
	case reflect.Struct, reflect.Map:
		return "an object"
	case reflect.Slice, reflect.Array:
		return "an array"
	case reflect.String:
		return "a string"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64, reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "an integer"
	case reflect.Bool:
		return "true or false"
	case reflect.Pointer:
		return jsonKind(t.Elem())
	}
	return t.String()
}
