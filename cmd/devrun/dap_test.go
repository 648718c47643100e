//go:build unix

package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/google/go-dap"
)

// dapClient speaks the Debug Adapter Protocol to Delve as VS Code does
// when it attaches to a headless Delve ("request": "attach", "mode":
// "remote"). Its calls are sequential: one request, then the messages up to
// its response; events read on the way are kept for waitEvent.
type dapClient struct {
	t      *testing.T
	conn   net.Conn
	r      *bufio.Reader
	seq    int
	events []dap.Message
}

// attachDAP connects to Delve at addr and attaches, as an editor does:
// initialize, attach, the breakpoints, configurationDone (which lets an
// app held at its start run); before, if set, is called just before that.
func attachDAP(t *testing.T, addr, file string, line int, before func()) *dapClient {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		t.Fatalf("connecting to Delve: %v", err)
	}
	c := &dapClient{t: t, conn: conn, r: bufio.NewReader(conn)}
	t.Cleanup(func() { conn.Close() })
	c.call(&dap.InitializeRequest{Request: c.req("initialize"), Arguments: dap.InitializeRequestArguments{
		ClientID: "devrun-test", AdapterID: "go", PathFormat: "path", LinesStartAt1: true, ColumnsStartAt1: true}})
	c.call(&dap.AttachRequest{Request: c.req("attach"), Arguments: json.RawMessage(`{"mode":"remote"}`)})
	c.waitEvent("initialized")
	resp := c.call(&dap.SetBreakpointsRequest{Request: c.req("setBreakpoints"), Arguments: dap.SetBreakpointsArguments{
		Source: dap.Source{Path: file}, Breakpoints: []dap.SourceBreakpoint{{Line: line}}}}).(*dap.SetBreakpointsResponse)
	if len(resp.Body.Breakpoints) != 1 || !resp.Body.Breakpoints[0].Verified {
		t.Fatalf("breakpoint at %s:%d not verified: %+v", file, line, resp.Body.Breakpoints)
	}
	if before != nil {
		before()
	}
	c.call(&dap.ConfigurationDoneRequest{Request: c.req("configurationDone")})
	return c
}

func (c *dapClient) req(command string) dap.Request {
	c.seq++
	return dap.Request{ProtocolMessage: dap.ProtocolMessage{Seq: c.seq, Type: "request"}, Command: command}
}

// read reads the next message, bounded by waitTimeout.
func (c *dapClient) read() dap.Message {
	c.t.Helper()
	c.conn.SetReadDeadline(time.Now().Add(waitTimeout))
	m, err := dap.ReadProtocolMessage(c.r)
	if err != nil {
		c.t.Fatalf("reading from Delve: %v", err)
	}
	return m
}

// call sends req and returns its response, failing the test on an error
// response.
func (c *dapClient) call(req dap.RequestMessage) dap.ResponseMessage {
	c.t.Helper()
	if err := dap.WriteProtocolMessage(c.conn, req); err != nil {
		c.t.Fatalf("writing to Delve: %v", err)
	}
	for {
		switch m := c.read().(type) {
		case dap.ResponseMessage:
			r := m.GetResponse()
			if r.RequestSeq != req.GetRequest().Seq {
				continue
			}
			if !r.Success {
				c.t.Fatalf("%s: %s %+v", r.Command, r.Message, m)
			}
			return m
		case dap.EventMessage:
			c.events = append(c.events, m)
		}
	}
}

// waitEvent returns the first event named event not yet returned.
func (c *dapClient) waitEvent(event string) dap.EventMessage {
	c.t.Helper()
	for i, e := range c.events {
		if e.(dap.EventMessage).GetEvent().Event == event {
			c.events = append(c.events[:i:i], c.events[i+1:]...)
			return e.(dap.EventMessage)
		}
	}
	for {
		if e, ok := c.read().(dap.EventMessage); ok {
			if e.GetEvent().Event == event {
				return e
			}
			c.events = append(c.events, e)
		}
	}
}

// stopped waits for the stop at a breakpoint and returns where it is (the
// top frame's file and line) and the value of the local variable name.
func (c *dapClient) stopped(name string) (file string, line int, value string, thread int) {
	c.t.Helper()
	ev := c.waitEvent("stopped").(*dap.StoppedEvent)
	if ev.Body.Reason != "breakpoint" {
		c.t.Fatalf("stopped for %q, not at the breakpoint", ev.Body.Reason)
	}
	thread = ev.Body.ThreadId
	st := c.call(&dap.StackTraceRequest{Request: c.req("stackTrace"), Arguments: dap.StackTraceArguments{ThreadId: thread, Levels: 1}}).(*dap.StackTraceResponse)
	if len(st.Body.StackFrames) == 0 {
		c.t.Fatal("no stack frame at the stop")
	}
	top := st.Body.StackFrames[0]
	if top.Source != nil {
		file = top.Source.Path
	}
	sc := c.call(&dap.ScopesRequest{Request: c.req("scopes"), Arguments: dap.ScopesArguments{FrameId: top.Id}}).(*dap.ScopesResponse)
	for _, s := range sc.Body.Scopes {
		vs := c.call(&dap.VariablesRequest{Request: c.req("variables"), Arguments: dap.VariablesArguments{VariablesReference: s.VariablesReference}}).(*dap.VariablesResponse)
		for _, v := range vs.Body.Variables {
			if v.Name == name {
				value = v.Value
			}
		}
	}
	return file, top.Line, value, thread
}

// cont continues the app.
func (c *dapClient) cont(thread int) {
	c.t.Helper()
	c.call(&dap.ContinueRequest{Request: c.req("continue"), Arguments: dap.ContinueArguments{ThreadId: thread}})
}

// detach leaves the app running under Delve, as an editor's disconnect
// does in remote mode.
func (c *dapClient) detach() {
	c.t.Helper()
	c.call(&dap.DisconnectRequest{Request: c.req("disconnect"), Arguments: &dap.DisconnectArguments{TerminateDebuggee: false}})
	c.conn.Close()
}

func (c *dapClient) String() string { return fmt.Sprintf("DAP client of %s", c.conn.RemoteAddr()) }
