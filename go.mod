module github.com/onnxq/onnxq

go 1.26.0

tool google.golang.org/protobuf/cmd/protoc-gen-go

require (
	github.com/spf13/pflag v1.1.0
	github.com/x448/float16 v0.8.4
	golang.org/x/sys v0.50.0
	google.golang.org/protobuf v1.36.12
)
