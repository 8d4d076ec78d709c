// The floor of a statically linked Swift program that uses Foundation, measured by bench/floor.
import Foundation

print("Swift runtime and Foundation, at \(Date().timeIntervalSince1970)")
fflush(stdout)
sleep(3)
