package kube

import (
	"encoding/binary"
	"fmt"
)

// The boot loader puts pid1 into a pod whose image has no shell, no tar and
// no devrun: nothing that could receive a file. A ConfigMap can carry a
// file into any pod, executable (defaultMode), but at most 1 MiB of it, and
// the smallest Go program is larger than that. So the loader is a few
// machine instructions in an ELF file that devrun writes itself:
//
//	boot DEST PROG [ARGS...]
//
// writes what it reads from its standard input to DEST (created, truncated,
// mode 0755) until end of file, then replaces itself with PROG ARGS
// (execve, keeping its PID and environment). devrun runs the container with
// stdin open and stdinOnce, attaches, sends pid1's binary, and closes
// stdin: boot becomes pid1, which becomes the container's first process.
// It exits with 1 when it cannot open DEST, 2 when reading fails, 3 when a
// write is short or fails, 4 when close fails, and 127 when execve fails:
// these are what the pod's status reports (bootExit).
//
// The code is written for Linux on amd64 and arm64; the instructions are
// below, each with its assembly (GNU as), and TestBootLoader runs both
// (arm64 under qemu-aarch64 where it is installed).

// bootAMD64 is the loader for linux/amd64 (Intel syntax).
var bootAMD64 = []byte{
	0x48, 0x89, 0xe3, // mov rbx, rsp             ; rbx: argc, then argv, 0, envp
	0xbf, 0x9c, 0xff, 0xff, 0xff, // mov edi, -100 ; AT_FDCWD
	0x48, 0x8b, 0x73, 0x10, // mov rsi, [rbx+16]  ; argv[1], DEST
	0xba, 0x41, 0x02, 0x00, 0x00, // mov edx, 0x241 ; O_WRONLY|O_CREAT|O_TRUNC
	0x41, 0xba, 0xed, 0x01, 0x00, 0x00, // mov r10d, 0755
	0xb8, 0x01, 0x01, 0x00, 0x00, // mov eax, 257 ; openat
	0x0f, 0x05, // syscall
	0xbf, 0x01, 0x00, 0x00, 0x00, // mov edi, 1 ; the exit code if it failed
	0x48, 0x85, 0xc0, // test rax, rax
	0x78, 0x70, // js exit
	0x49, 0x89, 0xc4, // mov r12, rax ; the file
	0x48, 0x81, 0xec, 0x00, 0x00, 0x01, 0x00, // sub rsp, 65536 ; the buffer
	// loop:
	0x31, 0xff, // xor edi, edi ; stdin
	0x48, 0x89, 0xe6, // mov rsi, rsp
	0xba, 0x00, 0x00, 0x01, 0x00, // mov edx, 65536
	0x31, 0xc0, // xor eax, eax ; read
	0x0f, 0x05, // syscall
	0xbf, 0x02, 0x00, 0x00, 0x00, // mov edi, 2
	0x48, 0x85, 0xc0, // test rax, rax
	0x78, 0x4e, // js exit
	0x74, 0x1c, // je done ; end of file
	0x48, 0x89, 0xc2, // mov rdx, rax
	0x4c, 0x89, 0xe7, // mov rdi, r12
	0x48, 0x89, 0xe6, // mov rsi, rsp
	0xb8, 0x01, 0x00, 0x00, 0x00, // mov eax, 1 ; write
	0x0f, 0x05, // syscall
	0xbf, 0x03, 0x00, 0x00, 0x00, // mov edi, 3
	0x48, 0x39, 0xd0, // cmp rax, rdx
	0x75, 0x32, // jne exit
	0xeb, 0xca, // jmp loop
	// done:
	0x4c, 0x89, 0xe7, // mov rdi, r12
	0xb8, 0x03, 0x00, 0x00, 0x00, // mov eax, 3 ; close
	0x0f, 0x05, // syscall
	0xbf, 0x04, 0x00, 0x00, 0x00, // mov edi, 4
	0x48, 0x85, 0xc0, // test rax, rax
	0x75, 0x1c, // jne exit
	0x48, 0x8b, 0x7b, 0x18, // mov rdi, [rbx+24] ; argv[2], PROG
	0x48, 0x8d, 0x73, 0x18, // lea rsi, [rbx+24] ; &argv[2]
	0x48, 0x8b, 0x0b, // mov rcx, [rbx] ; argc
	0x48, 0x8d, 0x54, 0xcb, 0x10, // lea rdx, [rbx+rcx*8+16] ; envp
	0xb8, 0x3b, 0x00, 0x00, 0x00, // mov eax, 59 ; execve
	0x0f, 0x05, // syscall
	0xbf, 0x7f, 0x00, 0x00, 0x00, // mov edi, 127
	// exit:
	0xb8, 0xe7, 0x00, 0x00, 0x00, // mov eax, 231 ; exit_group
	0x0f, 0x05, // syscall
}

// bootARM64 is the same loader for linux/arm64, an instruction a word.
var bootARM64 = words(
	0x910003f3, // mov x19, sp            ; x19: argc, then argv, 0, envp
	0x92800c60, // mov x0, #-100          ; AT_FDCWD
	0xf9400a61, // ldr x1, [x19, #16]     ; argv[1], DEST
	0xd2804822, // mov x2, #0x241         ; O_WRONLY|O_CREAT|O_TRUNC
	0xd2803da3, // mov x3, #0755
	0xd2800708, // mov x8, #56            ; openat
	0xd4000001, // svc #0
	0xaa0003f4, // mov x20, x0            ; the file
	0xd2800020, // mov x0, #1             ; the exit code if it failed
	0xb7f80454, // tbnz x20, #63, exit
	0xd14043ff, // sub sp, sp, #0x10000   ; the buffer
	// loop:
	0xd2800000, // mov x0, #0             ; stdin
	0x910003e1, // mov x1, sp
	0xd2a00022, // mov x2, #0x10000
	0xd28007e8, // mov x8, #63            ; read
	0xd4000001, // svc #0
	0xaa0003f5, // mov x21, x0
	0xd2800040, // mov x0, #2
	0xb7f80335, // tbnz x21, #63, exit
	0xb4000155, // cbz x21, done          ; end of file
	0xaa1403e0, // mov x0, x20
	0x910003e1, // mov x1, sp
	0xaa1503e2, // mov x2, x21
	0xd2800808, // mov x8, #64            ; write
	0xd4000001, // svc #0
	0xeb15001f, // cmp x0, x21
	0xd2800060, // mov x0, #3
	0x54000201, // b.ne exit
	0x17ffffef, // b loop
	// done:
	0xaa1403e0, // mov x0, x20
	0xd2800728, // mov x8, #57            ; close
	0xd4000001, // svc #0
	0xaa0003f5, // mov x21, x0
	0xd2800080, // mov x0, #4
	0xb5000135, // cbnz x21, exit
	0xf9400e60, // ldr x0, [x19, #24]     ; argv[2], PROG
	0x91006261, // add x1, x19, #24       ; &argv[2]
	0xf9400263, // ldr x3, [x19]          ; argc
	0x8b030e62, // add x2, x19, x3, lsl #3
	0x91004042, // add x2, x2, #16        ; envp
	0xd2801ba8, // mov x8, #221           ; execve
	0xd4000001, // svc #0
	0xd2800fe0, // mov x0, #127
	// exit:
	0xd2800bc8, // mov x8, #94            ; exit_group
	0xd4000001, // svc #0
)

func words(ws ...uint32) []byte {
	b := make([]byte, 0, 4*len(ws))
	for _, w := range ws {
		b = binary.LittleEndian.AppendUint32(b, w)
	}
	return b
}

// bootExit says what a boot loader's exit code means, for a container
// that ended before pid1 ran.
func bootExit(code int32) string {
	switch code {
	case 1:
		return "could not create pid1's file (is the directory writable by the container's user?)"
	case 2:
		return "could not read pid1 from its standard input"
	case 3:
		return "could not write pid1's file (is the volume full?)"
	case 4:
		return "could not close pid1's file"
	case 127:
		return "could not execute pid1"
	}
	return fmt.Sprintf("exit code %d", code)
}

// Boot returns the boot loader, an ELF executable for linux/goarch.
func Boot(goarch string) ([]byte, error) {
	var code []byte
	var machine uint16
	switch goarch {
	case "amd64":
		code, machine = bootAMD64, 62 // EM_X86_64
	case "arm64":
		code, machine = bootARM64, 183 // EM_AARCH64
	default:
		return nil, fmt.Errorf("devrun's Kubernetes mode runs on amd64 and arm64 nodes, not on %s", goarch)
	}
	return elf(machine, code), nil
}

// elf wraps code in a static ELF64 executable, loaded at 0x400000, with no
// sections: the ELF header, a PT_LOAD of the whole file (read, execute),
// and a PT_GNU_STACK (read, write: the stack is not executable).
func elf(machine uint16, code []byte) []byte {
	const base, ehsize, phsize = 0x400000, 64, 56
	hdr := ehsize + 2*phsize
	le := binary.LittleEndian
	b := make([]byte, 0, hdr+len(code))
	b = append(b, 0x7f, 'E', 'L', 'F', 2 /* 64-bit */, 1 /* little-endian */, 1 /* version */, 0 /* System V */)
	b = append(b, make([]byte, 8)...)
	b = le.AppendUint16(b, 2) // ET_EXEC
	b = le.AppendUint16(b, machine)
	b = le.AppendUint32(b, 1)                     // version
	b = le.AppendUint64(b, uint64(base+hdr))      // entry
	b = le.AppendUint64(b, ehsize)                // program headers' offset
	b = le.AppendUint64(b, 0)                     // section headers' offset: none
	b = le.AppendUint32(b, 0)                     // flags
	b = le.AppendUint16(b, ehsize)                // this header's size
	b = le.AppendUint16(b, phsize)                // a program header's size
	b = le.AppendUint16(b, 2)                     // program headers
	b = le.AppendUint16(b, 64)                    // a section header's size
	b = le.AppendUint16(b, 0)                     // section headers
	b = le.AppendUint16(b, 0)                     // the section names' index
	b = le.AppendUint32(b, 1)                     // PT_LOAD
	b = le.AppendUint32(b, 5)                     // PF_R|PF_X
	b = le.AppendUint64(b, 0)                     // offset
	b = le.AppendUint64(b, base)                  // virtual address
	b = le.AppendUint64(b, base)                  // physical address
	b = le.AppendUint64(b, uint64(hdr+len(code))) // size in the file
	b = le.AppendUint64(b, uint64(hdr+len(code))) // size in memory
	b = le.AppendUint64(b, 0x1000)                // alignment
	b = le.AppendUint32(b, 0x6474e551)            // PT_GNU_STACK
	b = le.AppendUint32(b, 6)                     // PF_R|PF_W
	b = append(b, make([]byte, 5*8)...)
	b = le.AppendUint64(b, 16)
	return append(b, code...)
}
