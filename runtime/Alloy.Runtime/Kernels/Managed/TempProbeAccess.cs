[assembly: System.Runtime.CompilerServices.InternalsVisibleTo("mkprobe")]
