// The first render of a suite loads the router and every screen; on a busy CI machine that
// takes seconds, past the library's 1 s default.
require("@testing-library/react-native").configure({ asyncUtilTimeout: 15000 });
