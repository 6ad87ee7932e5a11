global using System; global using System.Linq;
