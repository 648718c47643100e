package main

// The libraries of the app that no service of the benchmark's tree uses
// yet: linked in all the same, as a real app's are.
import (
	_ "github.com/aws/aws-sdk-go-v2/config"
	_ "github.com/aws/aws-sdk-go-v2/service/dynamodb"
	_ "github.com/aws/aws-sdk-go-v2/service/ec2"
	_ "github.com/aws/aws-sdk-go-v2/service/iam"
	_ "github.com/aws/aws-sdk-go-v2/service/lambda"
	_ "github.com/aws/aws-sdk-go-v2/service/sqs"
	_ "github.com/labstack/echo/v4"
	_ "github.com/nats-io/nats.go"
	_ "github.com/prometheus/client_golang/prometheus/promhttp"
	_ "github.com/segmentio/kafka-go"
	_ "github.com/spf13/cobra"
	_ "go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	_ "k8s.io/client-go/dynamic"
	_ "k8s.io/client-go/informers"
)
