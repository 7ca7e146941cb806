// Package strictjson decodes JSON files onnxq reads (saved calibration
// statistics, --config overrides) more strictly than encoding/json: keys
// must be spelt exactly, none may appear twice, fields without omitempty
// must be present, and an object may not be given as null.
package strictjson
