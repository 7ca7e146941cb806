module github.com/onnxq/onnxq

go 1.26

tool google.golang.org/protobuf/cmd/protoc-gen-go

require (
	github.com/spf13/pflag v1.1.0
	google.golang.org/protobuf v1.36.12
)
