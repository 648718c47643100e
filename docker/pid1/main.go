//go:build unix

// Command pid1 is the first process of a devrun dev container. It runs the
// app and swaps it on request, without the container being recreated:
//
//	SIGHUP   stop the running app, if any, and start the app's binary anew
//	SIGUSR1  stop the app: the stop signal to its process group, then
//	         SIGKILL after the stop timeout
//	SIGUSR2  kill the app at once
//	SIGTERM, SIGINT  stop the app and exit (docker stop)
//
// As PID 1 it reaps every orphan. It tells devrun what happened with
// records on stderr, each "\x1edevrun <event> <value>\x1e": ready, started
// <pid>, failed <error>, stopped <code>, exited <code>, and shutdown <code>
// when the container itself is being stopped. The app's own output
// passes through untouched. It uses the standard library only: devrun builds
// it for the engine's platform from this file.
package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"
)

func main() {
	stopSignal := flag.Int("stop-signal", int(syscall.SIGTERM), "the signal that asks the app to stop")
	stopTimeout := flag.Duration("stop-timeout", 5*time.Second, "how long a stop waits before it kills")
	flag.Parse()
	if flag.NArg() == 0 {
		fmt.Fprintln(os.Stderr, "usage: pid1 [-stop-signal N] [-stop-timeout D] -- app [args]")
		os.Exit(2)
	}
	s := &supervisor{argv: flag.Args(), stopSignal: syscall.Signal(*stopSignal), stopTimeout: *stopTimeout}
	s.run()
}

type supervisor struct {
	argv        []string
	stopSignal  syscall.Signal
	stopTimeout time.Duration
	app         int // the app's PID, which is also its process group; 0 when none runs
}

func (s *supervisor) run() {
	sigs := make(chan os.Signal, 32)
	signal.Notify(sigs, syscall.SIGHUP, syscall.SIGUSR1, syscall.SIGUSR2, syscall.SIGTERM, syscall.SIGINT, syscall.SIGCHLD)
	report("ready", "")
	for sig := range sigs {
		switch sig {
		case syscall.SIGCHLD:
			s.reap()
		case syscall.SIGHUP:
			s.stop(s.stopTimeout, "stopped")
			s.start()
		case syscall.SIGUSR1:
			s.stop(s.stopTimeout, "stopped")
		case syscall.SIGUSR2:
			s.stop(0, "stopped")
		case syscall.SIGTERM, syscall.SIGINT:
			s.stop(s.stopTimeout, "shutdown")
			os.Exit(0)
		}
	}
}

// report writes one record for devrun.
func report(event, value string) {
	os.Stderr.WriteString("\x1edevrun " + event + " " + value + "\x1e")
}

func (s *supervisor) start() {
	p, err := os.StartProcess(s.argv[0], s.argv, &os.ProcAttr{
		Files: []*os.File{nil, os.Stdout, os.Stderr},
		Sys:   &syscall.SysProcAttr{Setpgid: true},
	})
	if err != nil {
		report("failed", err.Error())
		return
	}
	s.app = p.Pid
	p.Release() // reaped by reap, with every other child
	report("started", fmt.Sprint(p.Pid))
}

// reap collects every exited child. It reports the app's exit.
func (s *supervisor) reap() {
	for {
		var ws syscall.WaitStatus
		pid, err := syscall.Wait4(-1, &ws, syscall.WNOHANG, nil)
		if pid <= 0 || err != nil {
			return
		}
		if pid == s.app {
			s.app = 0
			report("exited", fmt.Sprint(exitCode(ws)))
		}
	}
}

// stop stops the app and every process of its group: the stop signal, then
// SIGKILL once timeout has passed. It reports event with the exit code.
func (s *supervisor) stop(timeout time.Duration, event string) {
	if s.app == 0 {
		return
	}
	pgid, code := s.app, -1
	sig := s.stopSignal
	if timeout == 0 {
		sig = syscall.SIGKILL
	}
	syscall.Kill(-pgid, sig)
	deadline := time.Now().Add(timeout)
	for delay := 100 * time.Microsecond; ; delay = min(2*delay, 20*time.Millisecond) {
		var ws syscall.WaitStatus
		for {
			pid, err := syscall.Wait4(-1, &ws, syscall.WNOHANG, nil)
			if pid <= 0 || err != nil {
				break
			}
			if pid == pgid {
				code = exitCode(ws)
			}
		}
		if errors.Is(syscall.Kill(-pgid, 0), syscall.ESRCH) {
			break
		}
		if time.Now().After(deadline) {
			syscall.Kill(-pgid, syscall.SIGKILL)
		}
		time.Sleep(delay)
	}
	s.app = 0
	report(event, fmt.Sprint(code))
}

func exitCode(ws syscall.WaitStatus) int {
	if ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return ws.ExitStatus()
}
