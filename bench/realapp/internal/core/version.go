package core

const Version = "v0"
